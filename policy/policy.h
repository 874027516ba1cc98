/* The policy model: what a loaded policy holds, how it is loaded and matched.
 *
 * Everything here is allocated once, at load time; lookups afterwards
 * (bs_policy_match, bs_rule_is_exempt, bs_errset_has) never allocate and are
 * safe to call from many threads at once. policy/ knows nothing of the preload
 * library or the CLI. */
#ifndef BS_POLICY_H
#define BS_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

/* Durations are nanoseconds everywhere inside backstop. */
typedef uint64_t bs_ns;
#define BS_MS ((bs_ns)1000000)
#define BS_SEC ((bs_ns)1000000000)

#define BS_NAME_MAX 64
#define BS_ERRNO_MAX 256 /* errno values 0..255 fit an errset */

struct bs_errset {
	uint64_t bits[BS_ERRNO_MAX / 64];
};

static inline bool bs_errset_has(const struct bs_errset *set, int err)
{
	return err > 0 && err < BS_ERRNO_MAX &&
	       (set->bits[err / 64] >> (err % 64)) & 1u;
}

static inline void bs_errset_add(struct bs_errset *set, int err)
{
	if (err > 0 && err < BS_ERRNO_MAX)
		set->bits[err / 64] |= (uint64_t)1 << (err % 64);
}

enum bs_jitter_kind {
	BS_JITTER_NONE,
	BS_JITTER_FULL,         /* uniform in [0, d] */
	BS_JITTER_EQUAL,        /* d/2 + uniform in [0, d/2] */
	BS_JITTER_DECORRELATED, /* uniform in [base, 3 * previous], capped */
	BS_JITTER_PERCENT,      /* mean-preserving: d * (1 +- percent/100) */
};

struct bs_jitter {
	enum bs_jitter_kind kind;
	uint32_t percent; /* BS_JITTER_PERCENT only: 0..100 */
};

enum bs_nonblocking { BS_NB_ASYNC, BS_NB_SYNC, BS_NB_PASS };
enum bs_cap_scope { BS_SCOPE_DEST, BS_SCOPE_HOST, BS_SCOPE_RULE };
enum bs_on_cap { BS_ONCAP_WAIT, BS_ONCAP_FAIL };
enum bs_failover { BS_FAILOVER_OFF, BS_FAILOVER_NEXT };
enum bs_share { BS_SHARE_PROCESS, BS_SHARE_MACHINE };
enum bs_on_open { BS_ONOPEN_WAIT, BS_ONOPEN_FAIL };
#define BS_BUDGET_OFF UINT32_MAX /* retry_budget = off */

/* Exponential backoff with jitter: the delay before retry n (n >= 1) is
 * min(max_delay, base * factor^(n-1)), then jittered. */
struct bs_backoff_params {
	bs_ns base;
	double factor; /* >= 1.0 */
	bs_ns max_delay;
	struct bs_jitter jitter;
};

/* The family of a host name pattern (`db.internal:5432`, `*.internal`). */
#define BS_PATTERN_NAME AF_UNSPEC

/* One entry of a `match` or `exempt` list: an IPv4/IPv6 CIDR with an
 * optional port, a unix socket path glob, or (match only) a host name
 * glob with an optional port. */
struct bs_pattern {
	sa_family_t family; /* AF_INET, AF_INET6, AF_UNIX or BS_PATTERN_NAME */
	uint8_t prefix;     /* CIDR prefix length (0..32 or 0..128) */
	uint16_t port;      /* host byte order; 0 = any port */
	uint8_t addr[16];   /* network byte order; IPv4 uses the first 4 */
	char *glob;         /* AF_UNIX: path glob ("@name" abstract); see bs_glob_match;
			     * BS_PATTERN_NAME: the name glob, lower-case */
};

/* The effective settings for outbound connections to one destination.
 * rules[0] of a policy is the [connect] section itself (name "connect",
 * no match list); every [dest "NAME"] rule starts as a copy of it and
 * overrides the keys it sets. */
struct bs_rule {
	char name[BS_NAME_MAX];
	uint32_t index;          /* position in bs_policy.rules */
	bool passthrough;        /* `passthrough = yes`: hand calls to libc untouched */
	uint32_t attempts;       /* 1 means no retry; 0: no count limit (the deadline bounds the call) */
	struct bs_backoff_params backoff; /* base, factor, max_delay, jitter */
	bs_ns attempt_timeout;   /* 0: an attempt is bounded by the deadline only */
	bs_ns deadline;          /* > 0: bound on the whole call, sleeps included */
	struct bs_errset retry_on;
	enum bs_nonblocking nonblocking;
	bs_ns io_timeout;        /* 0: off; SO_RCVTIMEO/SO_SNDTIMEO on the socket */
	uint32_t max_conns;      /* 0: unlimited */
	enum bs_cap_scope cap_scope;
	enum bs_on_cap on_cap;
	bs_ns cap_wait;
	enum bs_failover failover; /* next: retries move on to the name's next address */
	struct bs_pattern *match;
	size_t n_match;
	struct bs_pattern *exempt; /* exempt from max_conns, still retried */
	size_t n_exempt;
	/* docs/shared-state.md */
	enum bs_share share;     /* where caps, budget and breaker are counted */
	uint32_t retry_budget;   /* percent of calls; BS_BUDGET_OFF: no budget */
	uint32_t retry_budget_min; /* retries per second allowed regardless */
	bs_ns retry_budget_window;
	uint32_t breaker;        /* consecutive failed attempts that open; 0: off */
	bs_ns breaker_cooldown;  /* the first open period */
	bs_ns breaker_cooldown_max; /* the longest; 0: BS_BREAKER_GROWTH_MAX x the first */
	enum bs_on_open on_open;
};

/* Whether calls under rule consult a budget or a breaker. */
static inline bool bs_rule_guarded(const struct bs_rule *rule)
{
	return rule->retry_budget != BS_BUDGET_OFF || rule->breaker > 0;
}

enum bs_client_scope {
	BS_CLIENT_HOST,   /* per client address */
	BS_CLIENT_SUBNET, /* per /24 (IPv4) or /64 (IPv6) */
};

struct bs_accept_policy {
	uint32_t max_per_client; /* 0: unlimited */
	enum bs_client_scope client_scope;
	struct bs_pattern *exempt;
	size_t n_exempt;
	bool fd_backoff;         /* on_fd_exhaustion = backoff (true) | off */
	struct bs_backoff_params backoff; /* delays for fd exhaustion */
	bool retry_transient;    /* retry ECONNABORTED & co. in blocking accept */
	bs_ns io_timeout;        /* 0: off */
};

enum bs_sleep_mode { BS_SLEEP_RETRY, BS_SLEEP_ALL, BS_SLEEP_OFF };

struct bs_sleep_policy {
	enum bs_sleep_mode mode;
	struct bs_jitter jitter; /* NONE or PERCENT */
	bool backoff;
	bs_ns max_delay;
	bs_ns window;            /* how recent a failed connect makes a retry sleep */
	bs_ns floor;             /* mode = all: sleeps shorter than this are untouched */
};

/* The C types a declared wrapper's signature is written in. */
enum bs_ctype {
	BS_CT_VOID, BS_CT_INT, BS_CT_UNSIGNED, BS_CT_LONG, BS_CT_ULONG,
	BS_CT_SIZE, BS_CT_SSIZE, BS_CT_INT64, BS_CT_UINT64, BS_CT_DOUBLE,
	BS_CT_POINTER,
};

#define BS_WRAP_ARGS_MAX 16
#define BS_WRAP_VALUES_MAX 16

enum bs_cond_op { BS_OP_EQ, BS_OP_NE, BS_OP_LT, BS_OP_LE, BS_OP_GT, BS_OP_GE, BS_OP_IN };

/* One value of a retry_if: as written, checked against `returns` when
 * the policy is final. */
struct bs_cond_value {
	enum { BS_CV_INT, BS_CV_UINT, BS_CV_DOUBLE, BS_CV_NULL } kind;
	union {
		int64_t i;  /* BS_CV_INT: negative integers */
		uint64_t u; /* BS_CV_UINT: 0 and positive integers */
		double d;   /* BS_CV_DOUBLE */
	};
};

/* `retry_if = return OP VALUES [and errno in NAMES]`. */
struct bs_retry_if {
	bool set;
	enum bs_cond_op op;
	uint8_t n_values; /* 1, except for `in` */
	struct bs_cond_value values[BS_WRAP_VALUES_MAX];
	bool with_errno;  /* `and errno in NAMES` */
	struct bs_errset errnos;
};

/* A declared wrapper, [wrap "SYMBOL"]. wraps[0] of a policy holds the
 * defaults every declared one starts from; it is never installed. */
struct bs_wrap {
	char symbol[BS_NAME_MAX];
	enum bs_ctype returns;
	uint8_t n_args;
	enum bs_ctype args[BS_WRAP_ARGS_MAX];
	struct bs_retry_if retry_if;
	char library[BS_NAME_MAX * 4]; /* "": any loaded object's definition */
	uint32_t attempts;             /* 0: no count limit, the deadline bounds the call */
	struct bs_backoff_params backoff;
	bs_ns deadline;
};

enum bs_dns_mode { BS_DNS_OFF, BS_DNS_RETRY };

/* [dns]: transient failures of the program's name lookups. */
struct bs_dns_policy {
	enum bs_dns_mode mode;
	uint32_t attempts;       /* 0: no count limit (the deadline bounds the call) */
	struct bs_backoff_params backoff;
	bs_ns deadline;          /* > 0 */
	uint32_t retry_on;       /* a bs_eaiset (policy/eainames.h) */
};

enum bs_log_kind { BS_LOG_STDERR, BS_LOG_FD, BS_LOG_FILE, BS_LOG_SYSLOG, BS_LOG_OFF };

struct bs_global {
	enum bs_log_kind log_kind;
	int log_fd;        /* BS_LOG_FD */
	char *log_path;    /* BS_LOG_FILE */
	uint64_t seed;     /* 0: seed from the kernel */
	char *state_path;  /* the machine-wide state file; NULL: off */
};

struct bs_matcher; /* opaque lookup structure built at load time */
struct bs_name_matcher; /* the same for host name patterns */

struct bs_policy {
	struct bs_global global;
	struct bs_rule *rules; /* rules[0] is [connect] */
	size_t n_rules;
	struct bs_accept_policy accept;
	struct bs_sleep_policy sleep;
	struct bs_wrap *wraps; /* wraps[0]: the defaults; declared ones from 1 */
	size_t n_wraps;        /* including wraps[0] */
	struct bs_dns_policy dns;
	bool any_caps;         /* some rule has max_conns > 0 */
	bool any_machine;      /* some rule has share = machine */
	char *source;          /* "built-in", or the file path; "+env" if overridden */
	struct bs_matcher *matcher;
	struct bs_name_matcher *names; /* NULL: no rule matches by name */
	struct bs_origin_table *origins; /* where each effective value came from */
};

/* Where a policy comes from. */
struct bs_load_options {
	const char *path;        /* policy file; NULL: $BACKSTOP_POLICY, else built-in */
	char *const *envp;       /* environment to read BACKSTOP_* from; NULL: none */
	bool secure;             /* secure execution: ignore envp entirely */
};

/* Error text is "WHERE: WHAT", WHERE being FILE:LINE or the variable name. */
struct bs_error {
	char msg[512];
};

/* Load, merge (file, then environment on top) and validate a policy.
 * Returns 0 and sets *out, or -1 with err filled in. */
int bs_policy_load(const struct bs_load_options *opts, struct bs_policy **out,
		   struct bs_error *err);
/* The policy file's path as read (a relative BACKSTOP_POLICY made
 * absolute), or NULL for the built-in policy. */
const char *bs_policy_file(const struct bs_policy *p);
void bs_policy_free(struct bs_policy *policy);

/* The built-in default policy (what applies with no file and no variables). */
int bs_policy_builtin(struct bs_policy **out, struct bs_error *err);

/* The most specific rule matching a destination, or rules[0] when no
 * [dest] rule matches. Never NULL for AF_INET, AF_INET6 and AF_UNIX;
 * NULL for other families. No allocation, no lock. */
const struct bs_rule *bs_policy_match(const struct bs_policy *policy,
				      const struct sockaddr *sa, socklen_t len);
/* bs_policy_match for an address it manages (AF_INET, AF_INET6 or AF_UNIX,
 * length checked by the caller): a policy of one rule, the built-in
 * default, answers without a call. */
static inline const struct bs_rule *bs_policy_match_managed(const struct bs_policy *policy,
							    const struct sockaddr *sa,
							    socklen_t len)
{
	return policy->n_rules == 1 ? &policy->rules[0] : bs_policy_match(policy, sa, len);
}

/* The most specific [dest] rule matching a host name the program
 * resolved (lower-case, as engine/names.h keeps it) and a port, or NULL
 * when no rule matches by name. Exact names before globs, longer globs
 * first, a port-specific pattern before an any-port one, then rule order.
 * No allocation, no lock. */
const struct bs_rule *bs_policy_match_name(const struct bs_policy *policy,
					   const char *name, uint16_t port);

/* Whether an address falls in a list of patterns (exempt lists). */
bool bs_patterns_contain(const struct bs_pattern *patterns, size_t n,
			 const struct sockaddr *sa, socklen_t len);

/* Print the effective policy, one "section.key = value  # origin" line
 * per setting, for `backstop check`. */
void bs_policy_describe(const struct bs_policy *policy, FILE *out);
/* The same lines for one declared wrapper (w in policy->wraps). */
void bs_policy_describe_wrap(const struct bs_policy *policy, const struct bs_wrap *w,
			     FILE *out);

#endif
