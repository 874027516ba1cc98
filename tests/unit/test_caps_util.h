/* Shared by the cap table's tests (test_caps.c, test_caps_threads.c). */
#ifndef BS_TEST_CAPS_UTIL_H
#define BS_TEST_CAPS_UTIL_H

#include <check.h>
#include <sched.h>
#include <sys/socket.h>
#include <time.h>

#include "engine/caps.h"

static inline bs_ns mono_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (bs_ns)ts.tv_sec * BS_SEC + (bs_ns)ts.tv_nsec;
}

/* ---- the table ---- */

static inline struct bs_cap_request request(uint32_t id, uint32_t limit, bool wait,
				     bs_ns deadline_at)
{
	struct bs_cap_request req = { .limit = limit, .wait = wait,
				      .deadline_at = deadline_at };
	req.key.rule = id;
	req.key.family = AF_INET;
	return req;
}

static inline uint32_t must_acquire(struct bs_caps *caps, const struct bs_cap_request *req)
{
	struct bs_cap_outcome out;
	ck_assert_int_eq(bs_cap_acquire(caps, req, &out), BS_CAP_ACQUIRED);
	ck_assert_uint_ne(out.slot, BS_CAP_NONE);
	return out.slot;
}

/* Yield until `n` callers are queued on slot's key. */
static inline void await_queued(struct bs_caps *caps, uint32_t slot, uint32_t n)
{
	while (bs_cap_queued(caps, slot) != n)
		sched_yield();
}

#endif
