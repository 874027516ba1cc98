/* The cap table under real threads: the limit holds under a hammering,
 * waiters are served in FIFO order, an expired waiter is never served
 * (decided by an injected clock, so it is deterministic), a storm of
 * expired waiters costs one release, fork children get a working table.
 * Coordination is by observing the table (queued counts), condition
 * variables and pipes, never sleeps. */
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

#define HAMMER_THREADS 50
#define HAMMER_ROUNDS 200
#define HAMMER_LIMIT 5

struct hammer {
	struct bs_caps *caps;
	atomic_uint inside, max_inside, served;
};

static void *hammer_thread(void *arg)
{
	struct hammer *h = arg;
	struct bs_cap_request req = request(7, HAMMER_LIMIT, true, mono_now() + 120 * BS_SEC);
	for (int i = 0; i < HAMMER_ROUNDS; i++) {
		struct bs_cap_outcome out;
		enum bs_cap_status st = bs_cap_acquire(h->caps, &req, &out);
		ck_assert(st == BS_CAP_ACQUIRED || st == BS_CAP_WAITED);
		ck_assert_uint_le(out.in_use, HAMMER_LIMIT);
		unsigned now = atomic_fetch_add(&h->inside, 1) + 1;
		unsigned max = atomic_load(&h->max_inside);
		while (now > max && !atomic_compare_exchange_weak(&h->max_inside, &max, now))
			;
		sched_yield();
		atomic_fetch_sub(&h->inside, 1);
		atomic_fetch_add(&h->served, 1);
		bs_cap_release(h->caps, out.slot);
	}
	return NULL;
}

START_TEST(limit_holds_under_fifty_threads)
{
	struct hammer h = { .caps = bs_caps_create(8) };
	pthread_t t[HAMMER_THREADS];
	for (int i = 0; i < HAMMER_THREADS; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, hammer_thread, &h), 0);
	for (int i = 0; i < HAMMER_THREADS; i++)
		pthread_join(t[i], NULL);
	ck_assert_uint_le(atomic_load(&h.max_inside), HAMMER_LIMIT);
	ck_assert_uint_ge(atomic_load(&h.max_inside), 1);
	ck_assert_uint_eq(atomic_load(&h.served), HAMMER_THREADS * HAMMER_ROUNDS);
	struct bs_cap_request req = request(7, HAMMER_LIMIT, false, 0);
	uint32_t s = must_acquire(h.caps, &req);
	ck_assert_uint_eq(bs_cap_in_use(h.caps, s), 1); /* nothing leaked */
	bs_caps_destroy(h.caps);
}
END_TEST

/* A thread that queues for a slot and reports its outcome. */
struct waiter {
	pthread_t thread;
	struct bs_caps *caps;
	struct bs_cap_request req;
	struct bs_cap_outcome out;
	enum bs_cap_status status;
	atomic_int *served_seq;     /* counts waiters served, after `done` */
	atomic_bool done;
};

static void *waiter_thread(void *arg)
{
	struct waiter *w = arg;
	w->status = bs_cap_acquire(w->caps, &w->req, &w->out);
	atomic_store(&w->done, true);
	if (w->status == BS_CAP_WAITED)
		atomic_fetch_add(w->served_seq, 1);
	return NULL;
}

static void waiter_start(struct waiter *w, struct bs_caps *caps,
			 const struct bs_cap_request *req, atomic_int *seq)
{
	w->caps = caps;
	w->req = *req;
	w->served_seq = seq;
	atomic_init(&w->done, false);
	ck_assert_int_eq(pthread_create(&w->thread, NULL, waiter_thread, w), 0);
}

#define FIFO_WAITERS 8

struct churn {
	struct bs_caps *caps;
	atomic_bool stop;
};

/* Keys that come and go in a table of two, so that the hammered key's
 * cell is evicted whenever it is idle, under its lock-free acquirers. */
static void *churn_thread(void *arg)
{
	struct churn *c = arg;
	for (uint32_t k = 1000; !atomic_load(&c->stop); k++) {
		struct bs_cap_request req = request(k, 1, false, 0);
		struct bs_cap_outcome out;
		if (bs_cap_acquire(c->caps, &req, &out) == BS_CAP_ACQUIRED)
			bs_cap_release(c->caps, out.slot);
	}
	return NULL;
}

START_TEST(limit_holds_while_other_keys_evict_its_cell)
{
	struct hammer h = { .caps = bs_caps_create(2) };
	struct churn c = { .caps = h.caps };
	pthread_t t[10], churner;
	ck_assert_int_eq(pthread_create(&churner, NULL, churn_thread, &c), 0);
	for (int i = 0; i < 10; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, hammer_thread, &h), 0);
	for (int i = 0; i < 10; i++)
		pthread_join(t[i], NULL);
	atomic_store(&c.stop, true);
	pthread_join(churner, NULL);
	ck_assert_uint_le(atomic_load(&h.max_inside), HAMMER_LIMIT);
	ck_assert_uint_eq(atomic_load(&h.served), 10 * HAMMER_ROUNDS);
	struct bs_cap_request req = request(7, HAMMER_LIMIT, false, 0);
	uint32_t s = must_acquire(h.caps, &req);
	ck_assert_uint_eq(bs_cap_in_use(h.caps, s), 1); /* nothing leaked */
	bs_caps_destroy(h.caps);
}
END_TEST

START_TEST(waiters_are_served_in_arrival_order)
{
	struct bs_caps *caps = bs_caps_create(4);
	struct bs_cap_request req = request(3, 1, true, mono_now() + 120 * BS_SEC);
	uint32_t s = must_acquire(caps, &req);
	struct waiter w[FIFO_WAITERS];
	atomic_int seq = 0;
	for (uint32_t i = 0; i < FIFO_WAITERS; i++) {
		waiter_start(&w[i], caps, &req, &seq);
		await_queued(caps, s, i + 1); /* fixes the arrival order */
	}
	for (int i = 0; i < FIFO_WAITERS; i++) {
		bs_cap_release(caps, s);
		while (atomic_load(&seq) != i + 1) /* one more served */
			sched_yield();
		ck_assert_msg(atomic_load(&w[i].done), "waiter %d served out of turn", i);
		ck_assert_int_eq(w[i].status, BS_CAP_WAITED);
		ck_assert_uint_eq(w[i].out.slot, s);
		ck_assert_uint_eq(w[i].out.in_use, 1); /* handed over, count kept */
		ck_assert_uint_eq(bs_cap_in_use(caps, s), 1);
		for (int j = i + 1; j < FIFO_WAITERS; j++)
			ck_assert(!atomic_load(&w[j].done));
		pthread_join(w[i].thread, NULL);
	}
	bs_cap_release(caps, s);
	ck_assert_uint_eq(bs_cap_in_use(caps, s), 0);
	bs_caps_destroy(caps);
}
END_TEST

/* The expiry clock, set by the test; real waits end 60s+ out. */
static _Atomic bs_ns fake_clock;

static bs_ns read_fake_clock(void *ctx)
{
	(void)ctx;
	return atomic_load(&fake_clock);
}

/* `n_expired` waiters with early deadlines queue ahead of a live one;
 * the clock moves past their deadlines; one release must skip them all
 * and serve the live waiter, and none of them may get the slot. */
static void expired_waiters_are_skipped(uint32_t n_expired)
{
	struct bs_caps *caps = bs_caps_create(4);
	const bs_ns base = mono_now();
	atomic_store(&fake_clock, base);
	bs_caps_set_clock(caps, read_fake_clock, NULL);
	struct bs_cap_request hold = request(5, 1, false, 0);
	uint32_t s = must_acquire(caps, &hold);

	struct waiter *w = calloc(n_expired + 1, sizeof *w);
	atomic_int seq = 0;
	for (uint32_t i = 0; i <= n_expired; i++) {
		bool live = i == n_expired;
		struct bs_cap_request req =
			request(5, 1, true, base + (live ? 600 : 60) * BS_SEC);
		waiter_start(&w[i], caps, &req, &seq);
		await_queued(caps, s, i + 1);
	}
	atomic_store(&fake_clock, base + 300 * BS_SEC);
	bs_cap_release(caps, s);
	for (uint32_t i = 0; i <= n_expired; i++) {
		pthread_join(w[i].thread, NULL);
		ck_assert_int_eq(w[i].status, (i == n_expired ? BS_CAP_WAITED : BS_CAP_TIMEOUT));
	}
	ck_assert_uint_eq(w[n_expired].out.slot, s);
	ck_assert_uint_eq(bs_cap_in_use(caps, s), 1);
	ck_assert_uint_eq(bs_cap_queued(caps, s), 0);
	ck_assert_uint_eq(w[0].out.waited, 300 * BS_SEC);
	bs_cap_release(caps, s);
	ck_assert_uint_eq(bs_cap_in_use(caps, s), 0);
	free(w);
	bs_caps_destroy(caps);
}

START_TEST(an_expired_waiter_is_never_served)
{
	expired_waiters_are_skipped(1);
}
END_TEST

START_TEST(a_storm_of_expired_waiters_does_not_stall_a_live_one)
{
	expired_waiters_are_skipped(300);
}
END_TEST

/* With the real clock: short-deadline waiters time out on their own and
 * leave the queue; the slot still goes to the live waiter behind them. */
START_TEST(waiters_time_out_by_themselves)
{
	struct bs_caps *caps = bs_caps_create(4);
	struct bs_cap_request hold = request(6, 1, false, 0);
	uint32_t s = must_acquire(caps, &hold);
	struct waiter w[4];
	atomic_int seq = 0;
	for (int i = 0; i < 3; i++) {
		struct bs_cap_request req = request(6, 1, true, mono_now() + 20 * BS_MS);
		waiter_start(&w[i], caps, &req, &seq);
	}
	for (int i = 0; i < 3; i++) {
		pthread_join(w[i].thread, NULL);
		ck_assert_int_eq(w[i].status, BS_CAP_TIMEOUT);
		ck_assert_uint_eq(w[i].out.in_use, 1);
	}
	ck_assert_uint_eq(bs_cap_queued(caps, s), 0);
	struct bs_cap_request req = request(6, 1, true, mono_now() + 120 * BS_SEC);
	waiter_start(&w[3], caps, &req, &seq);
	await_queued(caps, s, 1);
	bs_cap_release(caps, s);
	pthread_join(w[3].thread, NULL);
	ck_assert_int_eq(w[3].status, BS_CAP_WAITED);
	bs_caps_destroy(caps);
}
END_TEST

START_TEST(a_cancelled_waiter_leaves_the_queue)
{
	struct bs_caps *caps = bs_caps_create(4);
	struct bs_cap_request req = request(8, 1, true, mono_now() + 120 * BS_SEC);
	uint32_t s = must_acquire(caps, &req);
	struct waiter w;
	atomic_int seq = 0;
	waiter_start(&w, caps, &req, &seq);
	await_queued(caps, s, 1);
	pthread_cancel(w.thread);
	void *res;
	pthread_join(w.thread, &res);
	ck_assert_ptr_eq(res, PTHREAD_CANCELED);
	ck_assert_uint_eq(bs_cap_queued(caps, s), 0);
	bs_cap_release(caps, s);
	ck_assert_uint_eq(bs_cap_in_use(caps, s), 0);
	bs_caps_destroy(caps);
}
END_TEST

/* A child forked while another thread waits, and while a third holds the
 * table lock, gets a table it can use: the lock is fresh and the ghost
 * waiter (a thread that does not exist in the child) is never handed the
 * child's slot. */
struct lock_holder {
	struct bs_caps *caps;
	uint32_t slot;
	int inside[2];  /* holder -> test: "I hold the lock" */
	int go_on[2];   /* test -> holder: "fork done" */
	atomic_bool armed;
};

static struct lock_holder *holder;

/* The clock runs under the table lock: park there once, when armed. */
static bs_ns parking_clock(void *ctx)
{
	(void)ctx;
	if (atomic_exchange(&holder->armed, false)) {
		char c = 1;
		ck_assert_int_eq(write(holder->inside[1], &c, 1), 1);
		ck_assert_int_eq(read(holder->go_on[0], &c, 1), 1);
	}
	return mono_now();
}

static void *holder_thread(void *arg)
{
	struct lock_holder *h = arg;
	bs_cap_release(h->caps, h->slot); /* a waiter is queued: reads the clock */
	return NULL;
}

START_TEST(fork_child_gets_a_working_table)
{
	struct lock_holder h = { .caps = bs_caps_create(4) };
	holder = &h;
	ck_assert_int_eq(pipe(h.inside), 0);
	ck_assert_int_eq(pipe(h.go_on), 0);
	bs_caps_set_clock(h.caps, parking_clock, NULL);
	struct bs_cap_request req = request(9, 1, true, mono_now() + 120 * BS_SEC);
	h.slot = must_acquire(h.caps, &req);
	struct waiter w;
	atomic_int seq = 0;
	waiter_start(&w, h.caps, &req, &seq);
	await_queued(h.caps, h.slot, 1);

	atomic_store(&h.armed, true);
	pthread_t t;
	ck_assert_int_eq(pthread_create(&t, NULL, holder_thread, &h), 0);
	char c;
	ck_assert_int_eq(read(h.inside[0], &c, 1), 1); /* lock held now */
	pid_t pid = fork();
	/* The child calls no ck_assert: Check's own mutex may be held at the
	 * fork by another thread of this test (an assertion in progress), and
	 * would then stay held forever in the child. */
	if (pid == 0) {
		bs_caps_after_fork_child(h.caps);
		bs_caps_recount_add(h.caps, h.slot); /* held by a descriptor */
		bs_caps_recount_end(h.caps);
		bs_caps_set_clock(h.caps, NULL, NULL);
		int ok = bs_cap_queued(h.caps, h.slot) == 0 &&
			 bs_cap_in_use(h.caps, h.slot) == 1;
		bs_cap_release(h.caps, h.slot); /* no ghost may take it */
		ok = ok && bs_cap_in_use(h.caps, h.slot) == 0;
		struct bs_cap_outcome out;
		struct bs_cap_request nowait = request(9, 1, false, 0);
		ok = ok && bs_cap_acquire(h.caps, &nowait, &out) == BS_CAP_ACQUIRED;
		ok = ok && bs_cap_acquire(h.caps, &nowait, &out) == BS_CAP_REJECT;
		_exit(ok ? 0 : 1);
	}
	ck_assert_int_ge(pid, 0);
	ck_assert_int_eq(write(h.go_on[1], &c, 1), 1);
	int status;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	/* the parent is untouched: its waiter got the released slot */
	pthread_join(t, NULL);
	pthread_join(w.thread, NULL);
	ck_assert_int_eq(w.status, BS_CAP_WAITED);
	ck_assert_uint_eq(bs_cap_in_use(h.caps, h.slot), 1);
	bs_caps_destroy(h.caps);
}
END_TEST

BS_SUITE(caps_threads_suite)
{
	Suite *s = suite_create("caps_threads");
	TCase *tc = tcase_create("threads");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, limit_holds_under_fifty_threads);
	tcase_add_test(tc, limit_holds_while_other_keys_evict_its_cell);
	tcase_add_test(tc, waiters_are_served_in_arrival_order);
	tcase_add_test(tc, an_expired_waiter_is_never_served);
	tcase_add_test(tc, a_storm_of_expired_waiters_does_not_stall_a_live_one);
	tcase_add_test(tc, waiters_time_out_by_themselves);
	tcase_add_test(tc, a_cancelled_waiter_leaves_the_queue);
	tcase_add_test(tc, fork_child_gets_a_working_table);
	suite_add_tcase(s, tc);
	return s;
}

