/* A connect as the retry engine's subject (see connect_retry.h). */
#include "engine/connect_retry.h"

static const struct bs_retry_events connect_events = {
	.retry = "connect.retry", .ok = "connect.ok", .giveup = "connect.giveup",
};

static void identify(struct bs_logline *line, const void *ctx)
{
	const struct bs_connect_call *c = ctx;
	bs_line_int(line, "fd", c->fd);
	bs_line_str(line, "dest", c->dest);
	if (c->name != NULL)
		bs_line_str(line, "name", c->name);
	bs_line_str(line, "rule", c->rule->name);
	bs_line_str(line, "mode", c->mode);
}

static bool retryable(const void *ctx, int err)
{
	const struct bs_connect_call *c = ctx;
	return bs_errset_has(&c->rule->retry_on, err);
}

void bs_connect_retry_call(struct bs_retry_call *out, const struct bs_connect_call *c)
{
	*out = (struct bs_retry_call){
		.subject = { .events = &connect_events, .ctx = c,
			     .identify = identify, .retryable = retryable },
		.limits = { .attempts = c->rule->attempts,
			    .backoff = &c->rule->backoff,
			    .attempt_timeout = c->rule->attempt_timeout,
			    .deadline = c->deadline ? c->deadline : c->rule->deadline },
		.rng = c->rng,
		.log = c->log,
		.start = c->start,
		.waited = c->waited,
		.guard = c->guard,
	};
}

int bs_connect_retry(const struct bs_connect_call *c, const struct bs_retry_io *io)
{
	struct bs_retry_call call;
	bs_connect_retry_call(&call, c);
	return bs_retry_run(&call, io);
}
