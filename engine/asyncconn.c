/* An asynchronous connect as pure logic (see asyncconn.h). */
#include "engine/asyncconn.h"

#include <errno.h>

void bs_aconn_start(struct bs_aconn *a, const struct bs_retry_call *call, bs_ns now)
{
	bs_retry_start(&a->retry, call);
	/* The deadline is > 0, so the first bound never gives up. */
	bs_ns bound = bs_retry_bound(&a->retry, now);
	a->state = BS_ACONN_IN_FLIGHT;
	a->due = bs_wait_end(now, bound);
	a->err = 0;
}

static enum bs_aconn_state fail(struct bs_aconn *a)
{
	a->err = bs_retry_error(&a->retry);
	return a->state = BS_ACONN_FAILED;
}

enum bs_aconn_state bs_aconn_ended(struct bs_aconn *a, int err, bs_ns now)
{
	if (err == 0) {
		bs_retry_succeeded(&a->retry, now);
		return a->state = BS_ACONN_CONNECTED;
	}
	bs_ns delay;
	if (bs_retry_failed(&a->retry, err, now, &delay) == BS_RETRY_GIVEUP)
		return fail(a);
	a->due = bs_wait_end(now, delay);
	return a->state = BS_ACONN_BACKOFF;
}

enum bs_aconn_state bs_aconn_resume(struct bs_aconn *a, bs_ns now)
{
	bs_ns hold;
	switch (bs_retry_gate(&a->retry, now, &hold)) {
	case BS_RETRY_STOP: /* an open circuit with on_open = fail, or no probe in time */
		return fail(a);
	case BS_RETRY_HOLD: /* on_open = wait: another pause, until the probe's turn */
		a->due = bs_wait_end(now, hold);
		return a->state = BS_ACONN_BACKOFF;
	case BS_RETRY_GO:
		break;
	}
	bs_ns bound = bs_retry_bound(&a->retry, now);
	if (bound == 0)
		return fail(a);
	a->due = bs_wait_end(now, bound);
	return a->state = BS_ACONN_IN_FLIGHT;
}

bs_ns bs_wait_end(bs_ns now, bs_ns timeout)
{
	return timeout > BS_WAIT_FOREVER - now ? BS_WAIT_FOREVER : now + timeout;
}

bs_ns bs_wait_slice(bs_ns now, bs_ns end, bs_ns due)
{
	bs_ns until = due < end ? due : end;
	if (until == BS_WAIT_FOREVER)
		return BS_WAIT_FOREVER;
	return until > now ? until - now : 0;
}
