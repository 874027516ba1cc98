/* Internals shared by the policy loader's parts: the table of keys (one
 * description drives the file parser, the environment, validation and
 * describe), where each value came from, and the loader's steps. */
#ifndef BS_LOAD_INTERNAL_H
#define BS_LOAD_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "policy/policy.h"
#include "policy/values.h"

/* The sections keys live in. [connect] and every [dest] share RULE keys;
 * every [wrap "SYMBOL"] has the WRAP keys (instance 0: the defaults). */
enum bs_scope { BS_SC_GLOBAL, BS_SC_RULE, BS_SC_ACCEPT, BS_SC_SLEEP, BS_SC_DNS, BS_SC_WRAP, BS_SC_COUNT };

enum bs_key_type {
	BS_K_DURATION,     /* bs_ns */
	BS_K_UINT,         /* uint32_t or uint64_t (size) in [min, max] */
	BS_K_FACTOR,       /* double */
	BS_K_BOOL,         /* bool */
	BS_K_ENUM,         /* an int-sized enum, or a bool (size 1) */
	BS_K_JITTER,       /* struct bs_jitter */
	BS_K_SLEEP_JITTER, /* struct bs_jitter, none or N% only */
	BS_K_ERRSET,       /* struct bs_errset; repeatable */
	BS_K_PATTERNS,     /* struct bs_pattern * + size_t count; repeatable */
	BS_K_LOG,          /* the log fields of struct bs_global */
	BS_K_CTYPE,        /* enum bs_ctype (+ returns_set): wrapvalues.c */
	BS_K_CTYPES,       /* the args list of struct bs_wrap */
	BS_K_RETRY_IF,     /* struct bs_retry_if */
	BS_K_STRING,       /* char[size], non-empty, no spaces */
	BS_K_EAISET,       /* uint32_t bs_eaiset (policy/eainames.h) */
	BS_K_BUDGET,       /* uint32_t percent, or BS_BUDGET_OFF */
	BS_K_STATE,        /* char *: an absolute path, NULL for off */
};

struct bs_enum_name {
	const char *name;
	int value;
};

struct bs_key {
	enum bs_scope scope;
	const char *name;
	enum bs_key_type type;
	size_t off;       /* field offset in the scope's struct */
	size_t size;      /* field size (copied when a dest rule inherits) */
	size_t count_off; /* BS_K_PATTERNS: offset of the count */
	uint64_t min, max;                /* BS_K_UINT; BS_K_DURATION: min only */
	const struct bs_enum_name *enums; /* BS_K_ENUM, NULL-terminated */
	bool dest_only;   /* match, exempt: only in [dest "NAME"] */
	const char *help; /* one line: what the key does */
	const char *def;  /* the built-in default, as text; NULL: empty */
};

#define BS_SCOPE_KEYS_MAX 40

/* The keys of one scope, in describe order. */
const struct bs_key *bs_scope_keys(enum bs_scope scope, size_t *n);
const char *bs_scope_name(enum bs_scope scope); /* "global", "connect", ... */
/* "[connect]", "[dest \"db\"]" (rule r) for messages. */
void bs_section_text(const struct bs_policy *p, enum bs_scope scope, size_t r,
		     char *buf, size_t cap);
/* The key of a scope with this name, or NULL. For RULE keys in [connect]
 * the dest-only ones are not found. */
const struct bs_key *bs_key_find(enum bs_scope scope, const char *name,
				 bool in_dest);
/* The closest key name for a "did you mean" (NULL when none is close). */
const char *bs_key_suggest(enum bs_scope scope, const char *name, bool in_dest);

/* Where a value came from: 0 = the built-in default (or, in a dest rule,
 * inherited from [connect]); a line of the file; or the environment. */
#define BS_ORIGIN_DEFAULT 0u
#define BS_ORIGIN_ENV 0xFFFFFFFFu       /* BACKSTOP_<SECTION>_<KEY> */
#define BS_ORIGIN_ENV_SHORT 0xFFFFFFFEu /* BACKSTOP_LOG, BACKSTOP_SEED */
#define BS_ORIGIN_IS_LINE(o) ((o) != BS_ORIGIN_DEFAULT && (o) < BS_ORIGIN_ENV_SHORT)

struct bs_origin_table {
	char *file;                       /* the policy file, or NULL */
	uint32_t scope[BS_SC_COUNT][BS_SCOPE_KEYS_MAX]; /* RULE: [connect] */
	uint32_t *rule_keys;  /* [rule][key] for every rule, rules[0] included */
	uint32_t *rule_line;  /* [rule]: line of its section header; 0: from env */
	uint32_t section_line[BS_SC_COUNT]; /* header lines; 0: not in the file */
	size_t cap;           /* rules allocated (policy->rules too) */
	uint32_t *wrap_keys;  /* [wrap][key], like rule_keys */
	uint32_t *wrap_line;  /* [wrap]: line of its section header */
	size_t wrap_cap;      /* wraps allocated (policy->wraps too) */
};

/* The origin slot of key k, for rule r when k is a RULE key. */
uint32_t *bs_origin_slot(struct bs_policy *p, const struct bs_key *k, size_t r);
uint32_t bs_origin_get(const struct bs_policy *p, const struct bs_key *k, size_t r);

/* The struct a key of this scope lives in (rule r for RULE keys). */
void *bs_key_target(struct bs_policy *p, enum bs_scope scope, size_t r);

/* Set key k from text. A repeatable key extends its list when `extend`,
 * otherwise replaces it. Records origin. why is filled on error. */
int bs_key_set(struct bs_policy *p, const struct bs_key *k, size_t r,
	       const char *value, bool extend, uint32_t origin, char *why,
	       size_t cap);
/* The value of key k as text, in the syntax the parser accepts. */
void bs_key_format(const struct bs_policy *p, const struct bs_key *k, size_t r,
		   char *buf, size_t cap);

/* policy.c, the owner of the policy object: a new policy holding only
 * [connect] and the default values, origins all default. */
struct bs_policy *bs_policy_new_default(void);
/* Append an empty [dest] rule; returns its index, or -1 out of memory. */
long bs_policy_add_rule(struct bs_policy *p, const char *name, uint32_t line);

/* wrapvalues.c: append a [wrap] section (a copy of wraps[0]); returns
 * its index, or -1 out of memory. */
long bs_policy_add_wrap(struct bs_policy *p, const char *symbol, uint32_t line);
/* Parse / format the value of a wrap-only key type (BS_K_CTYPE ...
 * BS_K_STRING) of the struct at base. */
struct bs_key;
int bs_wrap_parse_value(const struct bs_key *k, char *base, const char *value,
			char *why, size_t cap);
void bs_wrap_format_value(const struct bs_key *k, const char *base, char *buf,
			  size_t cap);
/* Cross-key checks of every declared wrapper (returns set, retry_if set
 * and fitting returns, backoff); err names the file:line to fix. */
int bs_wraps_finalize(struct bs_policy *p, struct bs_error *err);
/* A C identifier of 1 to BS_NAME_MAX - 1 characters. */
bool bs_valid_symbol(const char *s, size_t len);

/* parse.c: read a policy file on top of p. When `privileged`, the file
 * must first pass bs_file_trusted for the effective user. */
int bs_parse_file(struct bs_policy *p, const char *path, bool privileged,
		  struct bs_error *err);
/* trust.c: 0 when the open file fd is owned by root or euid and is not
 * group- or world-writable; else -1 with "PATH: refused: WHY". */
int bs_file_trusted(int fd, const char *path, uid_t euid, struct bs_error *err);
/* env.c: apply BACKSTOP_* variables; sets *applied when any did. */
int bs_apply_env(struct bs_policy *p, char *const *envp, bool *applied,
		 struct bs_error *err);
/* The value of NAME in envp, or NULL. */
const char *bs_env_get(char *const *envp, const char *name);
/* The variable that sets key k (of rule r): "BACKSTOP_DEST_DB_MAX_CONNS". */
void bs_env_name(const struct bs_policy *p, const struct bs_key *k, size_t r,
		 bool short_form, char *buf, size_t cap);

/* match.c: build the lookup tables after every rule is final. */
int bs_matcher_build(struct bs_policy *p, struct bs_error *err);
void bs_matcher_free(struct bs_matcher *m);
/* match_name.c: the same for host name patterns (p->names stays NULL
 * when no rule has one). */
int bs_name_matcher_build(struct bs_policy *p, struct bs_error *err);
void bs_name_matcher_free(struct bs_name_matcher *m);

/* Unix path glob: '*' and '?' (not across '/'), [set], [!set], \x. */
bool bs_glob_match(const char *glob, const char *s, size_t len);

/* Where a setting came from, as describe and error messages print it:
 * "policy.conf:7", "BACKSTOP_CONNECT_DEADLINE", or "default". */
void bs_origin_text(const struct bs_policy *p, const struct bs_key *k, size_t r,
		    char *buf, size_t cap);

#endif
