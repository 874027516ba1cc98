/* Cap keys, and the cap table under real threads: the limit holds under a
 * hammering, waiters are served in FIFO order, an expired waiter is never
 * served (decided by an injected clock, so it is deterministic), a storm of
 * expired waiters costs one release, fork children get a working table,
 * and keys that come and go never fill it. Coordination is by observing
 * the table (queued counts), condition variables and pipes, never sleeps. */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "engine/caps.h"
#include "tests/runner/bs_test.h"

static bs_ns mono_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (bs_ns)ts.tv_sec * BS_SEC + (bs_ns)ts.tv_nsec;
}

/* ---- keys ---- */

static struct sockaddr_in v4(const char *addr, uint16_t port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };
	ck_assert_int_eq(inet_pton(AF_INET, addr, &sin.sin_addr), 1);
	return sin;
}

static struct sockaddr_in6 v6(const char *addr, uint16_t port)
{
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6, .sin6_port = htons(port) };
	ck_assert_int_eq(inet_pton(AF_INET6, addr, &sin6.sin6_addr), 1);
	return sin6;
}

static struct bs_cap_key out_key(enum bs_cap_scope scope, uint32_t rule_index,
				 const void *sa, socklen_t len)
{
	struct bs_rule rule = { .index = rule_index, .cap_scope = scope };
	struct bs_cap_key key;
	memset(&key, 0xa5, sizeof key); /* every byte must be set */
	bs_cap_key_outbound(&key, &rule, sa, len);
	return key;
}

static bool same(struct bs_cap_key a, struct bs_cap_key b)
{
	return memcmp(&a, &b, sizeof a) == 0;
}

#define KEY(scope, rule, sa) out_key(scope, rule, &(sa), sizeof(sa))

START_TEST(outbound_keys_follow_the_scope)
{
	struct sockaddr_in a = v4("10.1.2.3", 5432), a2 = v4("10.1.2.3", 6379),
			   b = v4("10.1.2.4", 5432);
	ck_assert(!same(KEY(BS_SCOPE_DEST, 1, a), KEY(BS_SCOPE_DEST, 1, a2)));
	ck_assert(!same(KEY(BS_SCOPE_DEST, 1, a), KEY(BS_SCOPE_DEST, 1, b)));
	ck_assert(same(KEY(BS_SCOPE_HOST, 1, a), KEY(BS_SCOPE_HOST, 1, a2)));
	ck_assert(!same(KEY(BS_SCOPE_HOST, 1, a), KEY(BS_SCOPE_HOST, 1, b)));
	ck_assert(same(KEY(BS_SCOPE_RULE, 1, a), KEY(BS_SCOPE_RULE, 1, b)));
	ck_assert(!same(KEY(BS_SCOPE_RULE, 1, a), KEY(BS_SCOPE_RULE, 2, a)));
	ck_assert(!same(KEY(BS_SCOPE_DEST, 1, a), KEY(BS_SCOPE_DEST, 2, a)));
	struct bs_cap_key k = KEY(BS_SCOPE_DEST, 3, a);
	ck_assert_uint_eq(k.family, AF_INET);
	ck_assert_uint_eq(k.port, 5432);
	ck_assert_uint_eq(k.rule, 3);
}
END_TEST

START_TEST(v4_mapped_v6_counts_as_v4)
{
	struct sockaddr_in a = v4("192.0.2.7", 80);
	struct sockaddr_in6 m = v6("::ffff:192.0.2.7", 80), o = v6("2001:db8::7", 80);
	ck_assert(same(KEY(BS_SCOPE_DEST, 0, a), KEY(BS_SCOPE_DEST, 0, m)));
	ck_assert(!same(KEY(BS_SCOPE_DEST, 0, a), KEY(BS_SCOPE_DEST, 0, o)));
	ck_assert_uint_eq(KEY(BS_SCOPE_DEST, 0, o).family, AF_INET6);
}
END_TEST

static struct bs_cap_key unix_key(const char *path, bool abstract)
{
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	size_t n = strlen(path);
	memcpy(un.sun_path + abstract, path, n);
	socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + abstract + n +
				    !abstract); /* pathnames often include the NUL */
	return out_key(BS_SCOPE_DEST, 0, &un, len);
}

START_TEST(unix_keys_hash_the_path)
{
	ck_assert(same(unix_key("/run/a.sock", false), unix_key("/run/a.sock", false)));
	ck_assert(!same(unix_key("/run/a.sock", false), unix_key("/run/b.sock", false)));
	ck_assert(!same(unix_key("/run/a.sock", false), unix_key("/run/a.sock", true)));
	struct bs_cap_key k = unix_key("/run/a.sock", false);
	uint8_t zero[16] = { 0 };
	ck_assert_uint_eq(k.family, AF_UNIX);
	ck_assert_uint_eq(k.port, 0);
	ck_assert(memcmp(k.addr, zero, 16) != 0);
	/* the same path with or without its NUL counted in len */
	struct sockaddr_un un = { .sun_family = AF_UNIX, .sun_path = "/run/a.sock" };
	ck_assert(same(k, out_key(BS_SCOPE_DEST, 0, &un, sizeof un)));
}
END_TEST

static struct bs_cap_key in_key(enum bs_client_scope scope, const void *sa, socklen_t len)
{
	struct bs_cap_key key;
	memset(&key, 0x5a, sizeof key);
	bs_cap_key_inbound(&key, scope, sa, len);
	return key;
}

#define IKEY(scope, sa) in_key(scope, &(sa), sizeof(sa))

START_TEST(inbound_keys_by_host_or_subnet)
{
	struct sockaddr_in a = v4("198.51.100.7", 40000), a2 = v4("198.51.100.7", 40001),
			   b = v4("198.51.100.200", 40000), c = v4("198.51.101.7", 1);
	ck_assert(same(IKEY(BS_CLIENT_HOST, a), IKEY(BS_CLIENT_HOST, a2)));
	ck_assert(!same(IKEY(BS_CLIENT_HOST, a), IKEY(BS_CLIENT_HOST, b)));
	ck_assert(same(IKEY(BS_CLIENT_SUBNET, a), IKEY(BS_CLIENT_SUBNET, b)));
	ck_assert(!same(IKEY(BS_CLIENT_SUBNET, a), IKEY(BS_CLIENT_SUBNET, c)));
	ck_assert_uint_eq(IKEY(BS_CLIENT_HOST, a).rule, BS_CAP_RULE_INBOUND);
	struct sockaddr_in6 x = v6("2001:db8:1:2:aaaa::1", 1), y = v6("2001:db8:1:2:bbbb::9", 2),
			    z = v6("2001:db8:1:3::1", 1), m = v6("::ffff:198.51.100.9", 3);
	ck_assert(same(IKEY(BS_CLIENT_SUBNET, x), IKEY(BS_CLIENT_SUBNET, y)));
	ck_assert(!same(IKEY(BS_CLIENT_HOST, x), IKEY(BS_CLIENT_HOST, y)));
	ck_assert(!same(IKEY(BS_CLIENT_SUBNET, x), IKEY(BS_CLIENT_SUBNET, z)));
	ck_assert(same(IKEY(BS_CLIENT_SUBNET, a), IKEY(BS_CLIENT_SUBNET, m)));
	/* inbound and outbound keys never collide */
	ck_assert(!same(IKEY(BS_CLIENT_HOST, a), out_key(BS_SCOPE_HOST, 0, &a, sizeof a)));
}
END_TEST

START_TEST(short_addresses_only_set_the_family)
{
	struct sockaddr_in a = v4("10.0.0.1", 80);
	struct bs_cap_key k = out_key(BS_SCOPE_DEST, 0, &a, 4);
	uint8_t zero[16] = { 0 };
	ck_assert_uint_eq(k.family, AF_INET);
	ck_assert(memcmp(k.addr, zero, 16) == 0);
	ck_assert_uint_eq(k.port, 0);
}
END_TEST

/* ---- the table ---- */

static struct bs_cap_request request(uint32_t id, uint32_t limit, bool wait,
				     bs_ns deadline_at)
{
	struct bs_cap_request req = { .limit = limit, .wait = wait,
				      .deadline_at = deadline_at };
	req.key.rule = id;
	req.key.family = AF_INET;
	return req;
}

static uint32_t must_acquire(struct bs_caps *caps, const struct bs_cap_request *req)
{
	struct bs_cap_outcome out;
	ck_assert_int_eq(bs_cap_acquire(caps, req, &out), BS_CAP_ACQUIRED);
	ck_assert_uint_ne(out.slot, BS_CAP_NONE);
	return out.slot;
}

/* Yield until `n` callers are queued on slot's key. */
static void await_queued(struct bs_caps *caps, uint32_t slot, uint32_t n)
{
	while (bs_cap_queued(caps, slot) != n)
		sched_yield();
}

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

/* ---- threads ---- */

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

BS_SUITE(caps_suite)
{
	Suite *s = suite_create("caps");
	TCase *tc = tcase_create("keys");
	tcase_add_test(tc, outbound_keys_follow_the_scope);
	tcase_add_test(tc, v4_mapped_v6_counts_as_v4);
	tcase_add_test(tc, unix_keys_hash_the_path);
	tcase_add_test(tc, inbound_keys_by_host_or_subnet);
	tcase_add_test(tc, short_addresses_only_set_the_family);
	suite_add_tcase(s, tc);
	tc = tcase_create("table");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, reject_when_full_and_not_waiting);
	tcase_add_test(tc, waiting_with_no_time_left_times_out_at_once);
	tcase_add_test(tc, reclaim_frees_a_stale_slot_before_refusing);
	tcase_add_test(tc, table_reuses_entries_of_departed_keys);
	tcase_add_test(tc, full_table_fails_open);
	tcase_add_test(tc, a_lock_free_release_never_strands_a_new_waiter);
	tcase_add_test(tc, double_release_changes_nothing);
	suite_add_tcase(s, tc);
	tc = tcase_create("threads");
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
