/* A name lookup as the retry engine's subject (see dns_retry.h). */
#include "engine/dns_retry.h"

#include <netdb.h>

#include "policy/eainames.h"

static const struct bs_retry_events dns_events = {
	.retry = "dns.retry", .ok = "dns.ok", .giveup = "dns.giveup",
};

static void identify(struct bs_logline *line, const void *ctx)
{
	const struct bs_dns_call *c = ctx;
	bs_line_str(line, "name", c->name);
	bs_line_str(line, "call", c->call);
}

/* An EAI_* code by name; a positive value is the errno of an interrupted
 * pause (EINTR). */
static void failure(struct bs_logline *line, const void *ctx, int code)
{
	(void)ctx;
	const char *name = bs_eai_name(code);
	if (code > 0)
		bs_line_errno(line, "error", code);
	else if (name != NULL)
		bs_line_str(line, "error", name);
	else
		bs_line_int(line, "error", code);
}

static bool retryable(const void *ctx, int code)
{
	const struct bs_dns_call *c = ctx;
	return bs_eaiset_has(c->policy->retry_on, code);
}

bool bs_dns_retryable(const struct bs_dns_policy *policy, int code)
{
	return policy->mode == BS_DNS_RETRY && bs_eaiset_has(policy->retry_on, code);
}

int bs_dns_retry(const struct bs_dns_call *c, const struct bs_retry_io *io)
{
	const struct bs_retry_call call = {
		.subject = { .events = &dns_events, .ctx = c, .identify = identify,
			     .failure = failure, .retryable = retryable },
		.limits = { .attempts = c->policy->attempts,
			    .backoff = &c->policy->backoff,
			    .attempt_timeout = 0,
			    .deadline = c->policy->deadline },
		.rng = c->rng,
		.log = c->log,
		.start = c->start,
	};
	return bs_retry_run(&call, io);
}
