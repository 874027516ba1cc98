/* Machine-wide caps between real processes (fork) sharing an anonymous
 * MAP_SHARED table: the oldest live waiter is served first, a waiter whose
 * deadline passed never is, the slots of a process killed while holding
 * them come back, and a ticket (an asynchronous connect) queues without
 * blocking. Waits are bounded by deadlines; the test
 * polls the shared table for conditions, never for time. */
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "engine/mcaps.h"
#include "tests/runner/bs_test.h"

struct shared {
	struct bs_mcap_table table;
	_Atomic int order[8];  /* who got the slot, in order */
	_Atomic int n_order;
};

static bs_ns now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (bs_ns)ts.tv_sec * BS_SEC + (bs_ns)ts.tv_nsec;
}

static struct shared *shared_new(void)
{
	struct shared *s = mmap(NULL, sizeof *s, PROT_READ | PROT_WRITE,
				MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(s, MAP_FAILED);
	return s;
}

static struct bs_mcap_request request(bool wait, bs_ns timeout)
{
	return (struct bs_mcap_request){ .key = 42, .rule = "db", .dest = "10.0.0.1:5432",
					 .limit = 1, .wait = wait,
					 .deadline_at = now_ns() + timeout };
}

/* Child: wait for the slot; on success note `who`, then keep it (exit
 * without releasing) or give it back. */
static pid_t waiter(struct shared *s, int who, bs_ns timeout, bool keep)
{
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid > 0)
		return pid;
	struct bs_mcap_request req = request(true, timeout);
	uint32_t in_use;
	enum bs_cap_status st = bs_mcap_acquire(&s->table, &req, &in_use);
	if (st == BS_CAP_WAITED) {
		s->order[atomic_fetch_add(&s->n_order, 1)] = who;
		if (!keep)
			bs_mcap_release(&s->table, 42);
	}
	_exit(st == BS_CAP_WAITED ? 0 : st == BS_CAP_TIMEOUT ? 3 : 4);
}

/* Until n callers are queued (bounded against a hang). */
static void await_queued(struct shared *s, uint32_t n)
{
	for (int i = 0; i < 100000; i++) {
		uint32_t used, waiters;
		bs_mcap_count(&s->table.entries[42 % BS_MCAP_KEYS], now_ns(), &used, &waiters);
		if (waiters == n)
			return;
		usleep(100);
	}
	ck_abort_msg("never %u waiters", n);
}

static int exit_status(pid_t pid)
{
	int status;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

START_TEST(oldest_live_waiter_first_and_expired_never)
{
	struct shared *s = shared_new();
	struct bs_mcap_request req = request(false, 0);
	uint32_t in_use;
	ck_assert_int_eq(bs_mcap_acquire(&s->table, &req, &in_use), BS_CAP_ACQUIRED);
	ck_assert_int_eq(bs_mcap_acquire(&s->table, &req, &in_use), BS_CAP_REJECT);
	pid_t expired = waiter(s, 1, 50 * BS_MS, false);
	await_queued(s, 1);
	pid_t first = waiter(s, 2, 60 * BS_SEC, false);
	await_queued(s, 2);
	pid_t second = waiter(s, 3, 60 * BS_SEC, false);
	await_queued(s, 2); /* the expired one no longer counts... */
	ck_assert_int_eq(exit_status(expired), 3); /* ...and timed out */
	bs_mcap_release(&s->table, 42);
	ck_assert_int_eq(exit_status(first), 0);
	ck_assert_int_eq(exit_status(second), 0);
	ck_assert_int_eq(s->n_order, 2);
	ck_assert_int_eq(s->order[0], 2);
	ck_assert_int_eq(s->order[1], 3);
	munmap(s, sizeof *s);
}
END_TEST

START_TEST(killed_holders_give_their_slots_back)
{
	struct shared *s = shared_new();
	struct bs_mcap_request req = request(false, 0);
	uint32_t in_use;
	ck_assert_int_eq(bs_mcap_acquire(&s->table, &req, &in_use), BS_CAP_ACQUIRED);
	/* A waiter that will keep the slot, and be killed holding it. */
	pid_t holder = waiter(s, 1, 60 * BS_SEC, true);
	await_queued(s, 1);
	bs_mcap_release(&s->table, 42);
	ck_assert_int_eq(exit_status(holder), 0); /* exited holding the slot */
	ck_assert_int_eq(bs_mcap_acquire(&s->table, &req, &in_use), BS_CAP_ACQUIRED);
	ck_assert_uint_eq(in_use, 1);
	/* A waiter killed while queued does not block the line. */
	pid_t queued = waiter(s, 2, 60 * BS_SEC, false);
	await_queued(s, 1);
	kill(queued, SIGKILL);
	ck_assert_int_eq(exit_status(queued), -1);
	bs_mcap_release(&s->table, 42);
	ck_assert_int_eq(bs_mcap_acquire(&s->table, &req, &in_use), BS_CAP_ACQUIRED);
	ck_assert_int_eq(s->n_order, 1);
	munmap(s, sizeof *s);
}
END_TEST

/* An asynchronous connect's ticket: queued without blocking, served in
 * its turn by polling, never once its deadline passed, and a cancelled
 * one passes the slot on. */
START_TEST(tickets_queue_without_blocking)
{
	struct shared *s = shared_new();
	struct bs_mcap_request req = request(false, 0);
	uint32_t in_use;
	ck_assert_int_eq(bs_mcap_acquire(&s->table, &req, &in_use), BS_CAP_ACQUIRED);
	struct bs_mcap_ticket tk = { 0 };
	struct bs_mcap_request queued = request(true, 60 * BS_SEC);
	queued.ticket = &tk;
	ck_assert_int_eq(bs_mcap_acquire(&s->table, &queued, &in_use), BS_CAP_QUEUED);
	ck_assert_int_eq(bs_mcap_poll(&s->table, &tk, now_ns(), &in_use), BS_CAP_QUEUED);
	pid_t later = waiter(s, 2, 60 * BS_SEC, false);
	await_queued(s, 2);
	bs_mcap_release(&s->table, 42);
	ck_assert_int_eq(bs_mcap_poll(&s->table, &tk, now_ns(), &in_use), BS_CAP_WAITED);
	ck_assert_uint_eq(in_use, 1);
	ck_assert_int_eq(s->n_order, 0); /* the later one still waits */
	bs_mcap_release(&s->table, 42);
	ck_assert_int_eq(exit_status(later), 0);

	/* Past its deadline: out of the queue, never served. */
	ck_assert_int_eq(bs_mcap_acquire(&s->table, &req, &in_use), BS_CAP_ACQUIRED);
	ck_assert_int_eq(bs_mcap_acquire(&s->table, &queued, &in_use), BS_CAP_QUEUED);
	bs_mcap_release(&s->table, 42); /* a slot is free... */
	ck_assert_int_eq(bs_mcap_poll(&s->table, &tk, queued.deadline_at, &in_use),
			 BS_CAP_TIMEOUT); /* ...but too late */
	ck_assert_int_eq(bs_mcap_poll(&s->table, &tk, now_ns(), &in_use), BS_CAP_TIMEOUT);
	await_queued(s, 0);

	/* Cancelled: the next waiter gets the slot. */
	ck_assert_int_eq(bs_mcap_acquire(&s->table, &req, &in_use), BS_CAP_ACQUIRED);
	queued.deadline_at = now_ns() + 60 * BS_SEC;
	ck_assert_int_eq(bs_mcap_acquire(&s->table, &queued, &in_use), BS_CAP_QUEUED);
	later = waiter(s, 3, 60 * BS_SEC, false);
	await_queued(s, 2);
	bs_mcap_cancel(&s->table, &tk);
	bs_mcap_release(&s->table, 42);
	ck_assert_int_eq(exit_status(later), 0);
	ck_assert_int_eq(s->n_order, 2);
	ck_assert_int_eq(s->order[1], 3);
	munmap(s, sizeof *s);
}
END_TEST

BS_SUITE(mcaps_suite)
{
	Suite *s = suite_create("mcaps");
	TCase *tc = tcase_create("mcaps");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, oldest_live_waiter_first_and_expired_never);
	tcase_add_test(tc, killed_holders_give_their_slots_back);
	tcase_add_test(tc, tickets_queue_without_blocking);
	suite_add_tcase(s, tc);
	return s;
}
