/* The cap table, one thread at a time (threads are test_caps_threads.c,
 * keys test_capkey.c, tickets test_caps_ticket.c): full and not waiting,
 * no time left, reclaiming a stale slot, keys that come and go never fill
 * the table, a full table fails open, a double release changes nothing,
 * a lock-free release never strands a new waiter, and the release that
 * passes its caller's result on (close's) releases as the other does. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engine/caps.h"
#include "tests/runner/bs_test.h"
#include "tests/unit/test_caps_util.h"

START_TEST(reject_when_full_and_not_waiting)
{
	struct bs_caps *caps = bs_caps_create(4);
	struct bs_cap_request req = request(1, 2, false, 0);
	uint32_t s = must_acquire(caps, &req);
	ck_assert_uint_eq(must_acquire(caps, &req), s);
	struct bs_cap_outcome out;
	ck_assert_int_eq(bs_cap_acquire(caps, &req, &out), BS_CAP_REJECT);
	ck_assert_uint_eq(out.slot, BS_CAP_NONE);
	ck_assert_uint_eq(out.in_use, 2);
	ck_assert_uint_eq(out.waited, 0);
	bs_cap_release(caps, s);
	ck_assert_uint_eq(bs_cap_in_use(caps, s), 1);
	ck_assert_uint_eq(must_acquire(caps, &req), s);
	/* another key has its own count */
	struct bs_cap_request other = request(2, 2, false, 0);
	ck_assert_uint_ne(must_acquire(caps, &other), s);
	bs_caps_destroy(caps);
}
END_TEST

START_TEST(waiting_with_no_time_left_times_out_at_once)
{
	struct bs_caps *caps = bs_caps_create(4);
	struct bs_cap_request req = request(1, 1, true, mono_now() - 1);
	uint32_t s = must_acquire(caps, &req);
	struct bs_cap_outcome out;
	ck_assert_int_eq(bs_cap_acquire(caps, &req, &out), BS_CAP_TIMEOUT);
	ck_assert_uint_eq(out.slot, BS_CAP_NONE);
	ck_assert_uint_eq(out.in_use, 1);
	ck_assert_uint_eq(bs_cap_queued(caps, s), 0);
	bs_caps_destroy(caps);
}
END_TEST

struct reclaim_state {
	struct bs_caps *caps;
	uint32_t stale_slot;
	unsigned calls;
};

static unsigned reclaim_one(void *ctx, uint32_t slot)
{
	struct reclaim_state *st = ctx;
	ck_assert_uint_eq(slot, st->stale_slot);
	st->calls++;
	bs_cap_release(st->caps, slot); /* the lock is not held here */
	return 1;
}

START_TEST(reclaim_frees_a_stale_slot_before_refusing)
{
	struct bs_caps *caps = bs_caps_create(4);
	struct bs_cap_request req = request(1, 1, false, 0);
	uint32_t s = must_acquire(caps, &req);
	struct reclaim_state st = { .caps = caps, .stale_slot = s };
	req.reclaim = reclaim_one;
	req.reclaim_ctx = &st;
	ck_assert_uint_eq(must_acquire(caps, &req), s);
	ck_assert_uint_eq(st.calls, 1);
	ck_assert_uint_eq(bs_cap_in_use(caps, s), 1);
	/* not called when there is room */
	bs_cap_release(caps, s);
	must_acquire(caps, &req);
	ck_assert_uint_eq(st.calls, 1);
	bs_caps_destroy(caps);
}
END_TEST

/* Keys that come and go never fill the table, even with a few
 * long-lived keys pinning probe runs. */
START_TEST(table_reuses_entries_of_departed_keys)
{
	struct bs_caps *caps = bs_caps_create(16);
	uint32_t pinned[8];
	for (uint32_t i = 0; i < 8; i++) {
		struct bs_cap_request req = request(1000000 + i, 1, false, 0);
		pinned[i] = must_acquire(caps, &req);
	}
	for (uint32_t i = 0; i < 50000; i++) {
		struct bs_cap_request a = request(i, 1, false, 0);
		struct bs_cap_request b = request(i + 500000, 1, false, 0);
		uint32_t sa = must_acquire(caps, &a);
		uint32_t sb = must_acquire(caps, &b);
		bs_cap_release(caps, sa);
		bs_cap_release(caps, sb);
	}
	for (uint32_t i = 0; i < 8; i++)
		ck_assert_uint_eq(bs_cap_in_use(caps, pinned[i]), 1);
	bs_caps_destroy(caps);
}
END_TEST

struct racer {
	struct bs_caps *caps;
	struct bs_cap_request req;
	enum bs_cap_status status;
};

static void *wait_for_it(void *arg)
{
	struct racer *r = arg;
	struct bs_cap_outcome out;
	r->status = bs_cap_acquire(r->caps, &r->req, &out);
	if (r->status == BS_CAP_WAITED || r->status == BS_CAP_ACQUIRED)
		bs_cap_release(r->caps, out.slot);
	return NULL;
}

/* A release without waiters takes no lock (engine/caps.c): one racing a
 * caller that is just queueing must still leave that caller a slot. A
 * stranded waiter would sit out its 30 s deadline and time out. */
START_TEST(a_lock_free_release_never_strands_a_new_waiter)
{
	struct bs_caps *caps = bs_caps_create(4);
	for (int i = 0; i < 2000; i++) {
		struct racer r = { .caps = caps,
				   .req = request(1, 1, true, mono_now() + 30 * BS_SEC) };
		uint32_t s = must_acquire(caps, &r.req);
		pthread_t t;
		ck_assert_int_eq(pthread_create(&t, NULL, wait_for_it, &r), 0);
		for (int spin = 0; spin < i % 64; spin++)
			sched_yield(); /* land the release anywhere in the waiter's path */
		/* Both entry points take the same steps: alternate them. */
		if (i % 2)
			ck_assert_int_eq(bs_cap_release_passing(caps, s, i), i);
		else
			bs_cap_release(caps, s);
		pthread_join(t, NULL);
		ck_assert_int_ne(r.status, BS_CAP_TIMEOUT);
		ck_assert_uint_eq(bs_cap_in_use(caps, s), 0);
	}
	bs_caps_destroy(caps);
}
END_TEST

START_TEST(full_table_fails_open)
{
	struct bs_caps *caps = bs_caps_create(3);
	for (uint32_t i = 0; i < 3; i++) {
		struct bs_cap_request req = request(i, 1, false, 0);
		must_acquire(caps, &req);
	}
	struct bs_cap_request extra = request(99, 1, false, 0);
	struct bs_cap_outcome out;
	ck_assert_int_eq(bs_cap_acquire(caps, &extra, &out), BS_CAP_UNTRACKED);
	ck_assert_uint_eq(out.slot, BS_CAP_NONE);
	/* a key already present still counts */
	struct bs_cap_request again = request(1, 1, false, 0);
	ck_assert_int_eq(bs_cap_acquire(caps, &again, &out), BS_CAP_REJECT);
	bs_caps_destroy(caps);
}
END_TEST

START_TEST(double_release_changes_nothing)
{
	struct bs_caps *caps = bs_caps_create(4);
	struct bs_cap_request req = request(1, 3, false, 0);
	uint32_t s = must_acquire(caps, &req);
	must_acquire(caps, &req);
	bs_cap_release(caps, s);
	bs_cap_release(caps, s);
	bs_cap_release(caps, s); /* count was 0: ignored */
	ck_assert_uint_eq(bs_cap_in_use(caps, s), 0);
	bs_cap_release(caps, BS_CAP_NONE);
	bs_caps_destroy(caps);
}
END_TEST

static void count_release(void *ctx, const struct bs_cap_key *key)
{
	ck_assert_uint_eq(key->rule, 7);
	(*(unsigned *)ctx)++;
}

/* close gives a slot back with bs_cap_release_passing: the real close's
 * result and errno come back untouched, the count drops once, the
 * release callback (machine-wide caps) runs, a double release is
 * ignored. */
START_TEST(release_passing_returns_the_result_and_releases)
{
	struct bs_caps *caps = bs_caps_create(4);
	struct bs_cap_request req = request(7, 3, false, 0);
	uint32_t s = must_acquire(caps, &req);
	must_acquire(caps, &req);
	errno = EBADF;
	ck_assert_int_eq(bs_cap_release_passing(caps, s, -1), -1);
	ck_assert_int_eq(errno, EBADF);
	ck_assert_uint_eq(bs_cap_in_use(caps, s), 1);
	unsigned released = 0;
	bs_caps_on_release(caps, count_release, &released);
	ck_assert_int_eq(bs_cap_release_passing(caps, s, 0), 0);
	ck_assert_uint_eq(released, 1);
	ck_assert_uint_eq(bs_cap_in_use(caps, s), 0);
	bs_caps_on_release(caps, NULL, NULL);
	ck_assert_int_eq(bs_cap_release_passing(caps, s, 5), 5); /* count 0: ignored */
	ck_assert_uint_eq(bs_cap_in_use(caps, s), 0);
	ck_assert_int_eq(bs_cap_release_passing(caps, BS_CAP_NONE, 6), 6);
	bs_caps_destroy(caps);
}
END_TEST

BS_SUITE(caps_suite)
{
	Suite *s = suite_create("caps");
	TCase *tc = tcase_create("table");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, reject_when_full_and_not_waiting);
	tcase_add_test(tc, waiting_with_no_time_left_times_out_at_once);
	tcase_add_test(tc, reclaim_frees_a_stale_slot_before_refusing);
	tcase_add_test(tc, table_reuses_entries_of_departed_keys);
	tcase_add_test(tc, full_table_fails_open);
	tcase_add_test(tc, a_lock_free_release_never_strands_a_new_waiter);
	tcase_add_test(tc, double_release_changes_nothing);
	tcase_add_test(tc, release_passing_returns_the_result_and_releases);
	suite_add_tcase(s, tc);
	return s;
}
