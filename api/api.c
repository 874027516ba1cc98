/* The public C API (include/backstop/backstop.h): thin, exported wrappers
 * over the same policy/ modules the preload uses, so a program that links
 * -lbackstop loads, matches, backs off and logs exactly like a preloaded
 * one. Only these functions leave the library (BACKSTOP_API marks them
 * visibility("default"); everything else is built hidden). */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>

#include "backstop/backstop.h"
#include "engine/backoff.h"
#include "policy/dest.h"
#include "engine/log.h"
#include "policy/policy.h"
#include "engine/rng.h"

extern char **environ;
extern char *program_invocation_short_name;

/* The public handles are the internal structures under another name. */
static const struct bs_policy *P(const backstop_policy *p)
{
	return (const struct bs_policy *)p;
}

static const struct bs_rule *R(const backstop_rule *r)
{
	return (const struct bs_rule *)r;
}

struct backstop_log {
	struct bs_log log;
};

static_assert(sizeof(backstop_rng) == sizeof(struct bs_rng),
	      "backstop_rng must hold a bs_rng");

static void set_error(char *errbuf, size_t errlen, const char *msg)
{
	if (errbuf && errlen)
		snprintf(errbuf, errlen, "%s", msg);
}

static uint64_t ns_to_ms(bs_ns ns)
{
	return ns / BS_MS;
}

BACKSTOP_API const char *backstop_version(void)
{
	return BACKSTOP_VERSION;
}

BACKSTOP_API backstop_policy *backstop_policy_load(const char *path, char *errbuf,
						   size_t errlen)
{
	struct bs_load_options opts = {
		.path = path,
		.envp = environ,
		.secure = getauxval(AT_SECURE) != 0,
	};
	struct bs_policy *policy;
	struct bs_error err = { .msg = "" };
	if (bs_policy_load(&opts, &policy, &err) != 0) {
		set_error(errbuf, errlen, err.msg);
		return NULL;
	}
	return (backstop_policy *)policy;
}

BACKSTOP_API void backstop_policy_free(backstop_policy *policy)
{
	bs_policy_free((struct bs_policy *)policy);
}

BACKSTOP_API const char *backstop_policy_source(const backstop_policy *policy)
{
	return P(policy)->source;
}

BACKSTOP_API uint64_t backstop_policy_seed(const backstop_policy *policy)
{
	return P(policy)->global.seed;
}

BACKSTOP_API void backstop_policy_describe(const backstop_policy *policy, FILE *out)
{
	bs_policy_describe(P(policy), out);
}

BACKSTOP_API const backstop_rule *backstop_policy_match(const backstop_policy *policy,
							const struct sockaddr *addr,
							socklen_t addrlen)
{
	return (const backstop_rule *)bs_policy_match(P(policy), addr, addrlen);
}

BACKSTOP_API const backstop_rule *backstop_policy_match_dest(const backstop_policy *policy,
							     const char *dest)
{
	struct sockaddr_storage ss;
	socklen_t len;
	if (bs_dest_parse(dest, &ss, &len) != 0)
		return NULL;
	return backstop_policy_match(policy, (const struct sockaddr *)&ss, len);
}

BACKSTOP_API const char *backstop_rule_name(const backstop_rule *rule)
{
	return R(rule)->name;
}

BACKSTOP_API unsigned backstop_rule_attempts(const backstop_rule *rule)
{
	return R(rule)->attempts;
}

BACKSTOP_API uint64_t backstop_rule_deadline_ms(const backstop_rule *rule)
{
	return ns_to_ms(R(rule)->deadline);
}

BACKSTOP_API uint64_t backstop_rule_attempt_timeout_ms(const backstop_rule *rule)
{
	return ns_to_ms(R(rule)->attempt_timeout);
}

BACKSTOP_API uint64_t backstop_rule_base_ms(const backstop_rule *rule)
{
	return ns_to_ms(R(rule)->backoff.base);
}

BACKSTOP_API uint64_t backstop_rule_max_delay_ms(const backstop_rule *rule)
{
	return ns_to_ms(R(rule)->backoff.max_delay);
}

BACKSTOP_API unsigned backstop_rule_max_conns(const backstop_rule *rule)
{
	return R(rule)->max_conns;
}

BACKSTOP_API int backstop_rule_retryable(const backstop_rule *rule, int err)
{
	return bs_errset_has(&R(rule)->retry_on, err);
}

/* The public rng is the internal one's storage; copy through a real
 * bs_rng rather than alias the two types. */
BACKSTOP_API void backstop_rng_seed(backstop_rng *rng, uint64_t seed)
{
	struct bs_rng r;
	bs_rng_seed(&r, seed ? seed : bs_rng_kernel_seed());
	memcpy(rng, &r, sizeof r);
}

BACKSTOP_API double backstop_next_delay_ms(const backstop_rule *rule, unsigned retry,
					   backstop_backoff *state, backstop_rng *rng)
{
	struct bs_rng r;
	memcpy(&r, rng, sizeof r);
	bs_ns prev = state->prev_ns;
	bs_ns delay = bs_backoff_next(&R(rule)->backoff, retry ? retry : 1, &prev, &r);
	state->prev_ns = prev;
	memcpy(rng, &r, sizeof r);
	return (double)(delay / 1000) / 1000.0; /* whole microseconds */
}

BACKSTOP_API backstop_log *backstop_log_open(const backstop_policy *policy,
					     const char *prog, char *errbuf,
					     size_t errlen)
{
	backstop_log *log = calloc(1, sizeof *log);
	if (!log) {
		set_error(errbuf, errlen, strerror(errno));
		return NULL;
	}
	struct bs_error err = { .msg = "" };
	if (bs_log_open(&log->log, &P(policy)->global,
			prog ? prog : program_invocation_short_name, &err) != 0) {
		set_error(errbuf, errlen, err.msg);
		free(log);
		return NULL;
	}
	return log;
}

BACKSTOP_API void backstop_log_close(backstop_log *log)
{
	if (!log)
		return;
	bs_log_close(&log->log);
	free(log);
}

static void add_field(struct bs_logline *line, const backstop_field *f)
{
	switch (f->type) {
	case BACKSTOP_FIELD_STR:
		bs_line_str(line, f->key, f->value.str ? f->value.str : "");
		break;
	case BACKSTOP_FIELD_INT:
		bs_line_int(line, f->key, f->value.num);
		break;
	case BACKSTOP_FIELD_MS: /* negative durations are written as 0 */
		bs_line_ms(line, f->key,
			   f->value.ms > 0 ? (bs_ns)(f->value.ms * 1e6 + 0.5) : 0);
		break;
	case BACKSTOP_FIELD_ERRNO:
		bs_line_errno(line, f->key, f->value.err);
		break;
	}
}

BACKSTOP_API int backstop_log_event(backstop_log *log, const char *event,
				    const backstop_field *fields, size_t n_fields)
{
	struct bs_logline line;
	bs_line_begin(&line, &log->log, event);
	for (size_t i = 0; i < n_fields; i++)
		add_field(&line, &fields[i]);
	unsigned long dropped = atomic_load(&log->log.dropped);
	bs_line_emit(&line, &log->log);
	return line.truncated || atomic_load(&log->log.dropped) != dropped ? -1 : 0;
}
