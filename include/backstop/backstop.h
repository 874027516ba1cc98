/* backstop public C API: the policy engine a changeable program can link
 * to compute the same backoff and read the same policy as the preload.
 *
 *   cc app.c $(pkg-config --cflags --libs backstop)
 *
 * Link with -lbackstop (installed as $(PREFIX)/lib/libbackstop.so). This is
 * NOT the preload library ($(PREFIX)/lib/backstop/libbackstop-preload.so): linking
 * against the API interposes nothing; your program calls these functions
 * itself. See docs/api.md for a complete example.
 *
 * Threads: a loaded policy and its rules are read-only and may be used
 * from any number of threads until backstop_policy_free. A backstop_rng and
 * a backstop_backoff belong to one thread (or one call) at a time.
 * backstop_log_event may be called from many threads at once. */
#ifndef BACKSTOP_BACKSTOP_H
#define BACKSTOP_BACKSTOP_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#define BACKSTOP_VERSION_MAJOR 0
#define BACKSTOP_VERSION_MINOR 1
#define BACKSTOP_VERSION_PATCH 0
#define BACKSTOP_VERSION "0.1.0"

#ifdef __cplusplus
extern "C" {
#endif

#define BACKSTOP_API __attribute__((visibility("default")))

/* The version of the library actually loaded ("0.1.0"); compare with
 * BACKSTOP_VERSION, the version of the header compiled against. */
BACKSTOP_API const char *backstop_version(void);

/* ---- Policies --------------------------------------------------------- */

typedef struct backstop_policy backstop_policy; /* opaque */
typedef struct backstop_rule backstop_rule;     /* opaque, owned by its policy */

/* Load and validate a policy exactly as the preload does: the file at
 * `path` (NULL: $BACKSTOP_POLICY, or the built-in default when unset), then
 * BACKSTOP_* environment variables on top (ignored under secure execution).
 * Returns NULL on error with "WHERE: WHAT" in errbuf (FILE:LINE and key, or
 * the variable name); errbuf may be NULL. */
BACKSTOP_API backstop_policy *backstop_policy_load(const char *path, char *errbuf,
						   size_t errlen);
BACKSTOP_API void backstop_policy_free(backstop_policy *policy);

/* "built-in", the file path, with "+env" when variables overrode it. */
BACKSTOP_API const char *backstop_policy_source(const backstop_policy *policy);
/* [global] seed: 0 means "random". */
BACKSTOP_API uint64_t backstop_policy_seed(const backstop_policy *policy);
/* The effective policy, one "section.key = value  # origin" line per
 * setting: what `backstop check` prints. */
BACKSTOP_API void backstop_policy_describe(const backstop_policy *policy, FILE *out);

/* The rule for a destination: the most specific [dest] rule that matches,
 * else the [connect] section itself (named "connect"). NULL only for an
 * address family backstop does not handle (not IPv4, IPv6 or unix). */
BACKSTOP_API const backstop_rule *backstop_policy_match(const backstop_policy *policy,
							const struct sockaddr *addr,
							socklen_t addrlen);
/* The same for a destination written as text: "127.0.0.1:5432",
 * "[::1]:6379", "unix:/run/app.sock". NULL when the text is not one. */
BACKSTOP_API const backstop_rule *backstop_policy_match_dest(const backstop_policy *policy,
							     const char *dest);

/* Rule settings ("connect" or the NAME of [dest "NAME"]). Durations are in
 * milliseconds; 0 means "off" where the policy allows it. Attempts 0 (the
 * built-in default) means no count limit: the deadline ends the retries. */
BACKSTOP_API const char *backstop_rule_name(const backstop_rule *rule);
BACKSTOP_API unsigned backstop_rule_attempts(const backstop_rule *rule);
BACKSTOP_API uint64_t backstop_rule_deadline_ms(const backstop_rule *rule);
BACKSTOP_API uint64_t backstop_rule_attempt_timeout_ms(const backstop_rule *rule);
BACKSTOP_API uint64_t backstop_rule_base_ms(const backstop_rule *rule);
BACKSTOP_API uint64_t backstop_rule_max_delay_ms(const backstop_rule *rule);
BACKSTOP_API unsigned backstop_rule_max_conns(const backstop_rule *rule);
/* Whether errno value `err` is in the rule's retry_on list (1) or not (0). */
BACKSTOP_API int backstop_rule_retryable(const backstop_rule *rule, int err);

/* ---- Backoff ---------------------------------------------------------- */

/* Random state for jitter, owned by the caller; one per thread. The
 * contents are private. */
typedef struct backstop_rng {
	uint64_t opaque[4];
} backstop_rng;

/* Seed it: the same seed gives the same delays, every run. Seed 0 takes a
 * random seed from the kernel (what `seed = 0` means in a policy). */
BACKSTOP_API void backstop_rng_seed(backstop_rng *rng, uint64_t seed);

/* What one call's backoff carries from one retry to the next (the
 * decorrelated jitter needs the previous delay). Zero it before the first
 * retry of each call: backstop_backoff state = { 0 }; */
typedef struct backstop_backoff {
	uint64_t prev_ns;
} backstop_backoff;

/* The delay, in milliseconds (with microsecond precision), to wait before
 * retry number `retry` (1 = after the first failed attempt): the rule's
 * exponential backoff with its jitter, never above max_delay, computed
 * exactly as the preload does. Keeping within the deadline is the caller's
 * job: do not start a sleep that would end past it. */
BACKSTOP_API double backstop_next_delay_ms(const backstop_rule *rule, unsigned retry,
					   backstop_backoff *state, backstop_rng *rng);

/* ---- Log -------------------------------------------------------------- */

typedef struct backstop_log backstop_log; /* opaque */

/* Open the log sink the policy names ([global] log / $BACKSTOP_LOG:
 * stderr, fd:N, syslog, off or a file, appended to). `prog` is the `prog`
 * field of every line (NULL: the program's name). NULL on error, with the
 * reason in errbuf. */
BACKSTOP_API backstop_log *backstop_log_open(const backstop_policy *policy,
					     const char *prog, char *errbuf,
					     size_t errlen);
BACKSTOP_API void backstop_log_close(backstop_log *log);

enum backstop_field_type {
	BACKSTOP_FIELD_STR,   /* a JSON string (escaped for you) */
	BACKSTOP_FIELD_INT,   /* a JSON integer */
	BACKSTOP_FIELD_MS,    /* a duration in ms, written with 3 decimals */
	BACKSTOP_FIELD_ERRNO, /* an errno value, written as its name ("ECONNREFUSED") */
};

typedef struct backstop_field {
	const char *key;
	enum backstop_field_type type;
	union {
		const char *str;
		int64_t num;
		double ms;
		int err;
	} value;
} backstop_field;

#define BACKSTOP_STR(k, v) { (k), BACKSTOP_FIELD_STR, { .str = (v) } }
#define BACKSTOP_INT(k, v) { (k), BACKSTOP_FIELD_INT, { .num = (v) } }
#define BACKSTOP_MS(k, v) { (k), BACKSTOP_FIELD_MS, { .ms = (v) } }
#define BACKSTOP_ERRNO(k, v) { (k), BACKSTOP_FIELD_ERRNO, { .err = (v) } }

/* Write one JSON line: the required fields (ts, pid, tid, prog, event), then
 * `fields` in order, with a single write(2), exactly like the preload's own
 * lines (docs/log-format.md). Use the preload's event names
 * (connect.retry, connect.giveup, ...) for the same decisions so that
 * `backstop log` summarises both alike. Returns 0, or -1 when the line was
 * dropped (sink full or closed) or truncated (over 2 KiB). */
BACKSTOP_API int backstop_log_event(backstop_log *log, const char *event,
				    const backstop_field *fields, size_t n_fields);

#ifdef __cplusplus
}
#endif

#endif
