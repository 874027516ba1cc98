/* An asynchronous connect as pure logic: the states one nonblocking
 * connect goes through while backstop retries it behind the program's own
 * readiness calls (nonblocking = async), over the stepwise retry engine
 * (retry.h). The caller (preload/async.c) makes the system calls and
 * tells this code what happened; this code says what comes next and when.
 *
 *   IN_FLIGHT --attempt failed, retry allowed--> BACKOFF --due--> IN_FLIGHT
 *   IN_FLIGHT --connected--> CONNECTED
 *   IN_FLIGHT/BACKOFF --give-up--> FAILED (err: what the program is told)
 *
 * `due` is when the caller must act without being asked: the end of the
 * attempt's bound (IN_FLIGHT) or of the backoff pause (BACKOFF). */
#ifndef BS_ASYNCCONN_H
#define BS_ASYNCCONN_H

#include "engine/retry.h"

enum bs_aconn_state {
	BS_ACONN_IN_FLIGHT,
	BS_ACONN_BACKOFF,
	BS_ACONN_CONNECTED,
	BS_ACONN_FAILED,
};

struct bs_aconn {
	struct bs_retry retry;
	enum bs_aconn_state state;
	bs_ns due;
	int err; /* FAILED: the errno the program sees */
};

/* The program's first attempt began at call->start and is in flight
 * (EINPROGRESS) at `now`. */
void bs_aconn_start(struct bs_aconn *a, const struct bs_retry_call *call, bs_ns now);

/* The attempt in flight ended at `now` with err (0: connected; ETIMEDOUT
 * when its bound ran out). Returns the new state. */
enum bs_aconn_state bs_aconn_ended(struct bs_aconn *a, int err, bs_ns now);

/* The backoff pause is over (now >= due): start the next attempt. Returns
 * BS_ACONN_IN_FLIGHT (the caller connects now), BS_ACONN_BACKOFF (an open
 * circuit holds the call until `due`, then resume again) or
 * BS_ACONN_FAILED (the deadline left no room for another attempt, or the
 * circuit refused it). */
enum bs_aconn_state bs_aconn_resume(struct bs_aconn *a, bs_ns now);

/* How long a readiness call may wait in one go: the program's end of the
 * wait (`end`, BS_WAIT_FOREVER for none) cut at `due`, the earliest time
 * a pending connect needs backstop (BS_WAIT_FOREVER for none). Returns the
 * nanoseconds to wait from `now` (0: do not block), or BS_WAIT_FOREVER. */
#define BS_WAIT_FOREVER UINT64_MAX
bs_ns bs_wait_slice(bs_ns now, bs_ns end, bs_ns due);

/* The absolute end of a wait of `timeout` ns from now (BS_WAIT_FOREVER
 * stays forever), saturating. */
bs_ns bs_wait_end(bs_ns now, bs_ns timeout);

#endif
