/* The watchdog thread and the per-thread slots it watches (watchdog.h).
 *
 * A slot's `end` word says what the slot is doing:
 *   IDLE      nothing in flight
 *   ARMING    its thread is filling it in (a connect nested in a signal
 *             handler sees this, or an armed slot, and is not watched)
 *   CLAIMED   the watchdog took an overdue attempt and is deciding; the
 *             owner waits for `verdict` before it reuses the slot
 *   > CLAIMED the end of the attempt in flight
 * The owner arms (IDLE -> ARMING -> end) and disarms (end -> IDLE) with
 * atomics only; the watchdog claims an overdue attempt with a CAS
 * (end -> CLAIMED), so exactly one of the two decides its fate.
 *
 * The watchdog publishes when it will next wake (wake_at). An owner whose
 * end is earlier wakes it with a futex (a system call); one whose end is
 * later need not. While connects keep coming the watchdog wakes every
 * LINGER to look, so with bounds of LINGER or more (the default
 * attempt_timeout is 2s) no connect ever wakes it; after one LINGER with
 * no connect at all it sleeps with no timeout, and the next connect wakes
 * it once. Slot and wake_at are written seq_cst on both sides (the owner:
 * end, then wake_at read; the watchdog: wake_at, then ends read again), so
 * an end is never missed.
 *
 * The thread blocks every signal (glibc's internal ones aside), is named
 * "backstop-watch", sets a 1 ns timer slack so that it wakes on time, and
 * is started again lazily in a forked child. */
#include "preload/watchdog.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#define SLOTS 1024             /* threads with a watched connect at once */
#define LINGER (50 * BS_MS)    /* look this often while connects come */
#define STACK_SIZE (256 * 1024)
#define NEVER UINT64_MAX

enum { IDLE = 0, ARMING = 1, CLAIMED = 2 };
enum { PENDING, ABORTED, LEFT };            /* verdict */
enum { STOPPED, STARTING, RUNNING, FAILED }; /* the thread */

struct slot {
	_Atomic bs_ns end;
	_Atomic int fd;
	_Atomic uint32_t verdict;   /* futex word the owner waits on */
	_Atomic uint32_t arms;      /* bumped per attempt: the watchdog sees activity */
	_Atomic bool owned;
	struct timeval program_timeout; /* written before verdict = ABORTED */
} __attribute__((aligned(64)));

static struct slot slots[SLOTS];
static _Atomic uint32_t high_water; /* 1 + highest slot ever owned */
static _Atomic int state = STOPPED;
static _Atomic bs_ns wake_at = NEVER;
static _Atomic uint32_t kick;       /* futex word the watchdog sleeps on */

/* This thread's slot; NO_SLOT when none could be had. */
#define NO_SLOT ((struct slot *)&slots[SLOTS])
static __thread struct slot *my_slot __attribute__((tls_model("initial-exec")));
static pthread_key_t slot_key;
static _Atomic int key_state; /* 0 none, 1 being made, 2 made, 3 failed */

static long futex(_Atomic uint32_t *word, int op, uint32_t val, const struct timespec *ts)
{
	return syscall(SYS_futex, word, op, val, ts, NULL, FUTEX_BITSET_MATCH_ANY);
}

/* ---- the owner's side ---------------------------------------------------- */

/* Wait for the watchdog's verdict on a claimed attempt, then free the slot. */
static uint32_t settle(struct slot *s)
{
	uint32_t v;
	while ((v = atomic_load(&s->verdict)) == PENDING)
		futex(&s->verdict, FUTEX_WAIT_PRIVATE, PENDING, NULL);
	atomic_store(&s->end, IDLE);
	return v;
}

/* Thread exit (pthread key destructor): a connect cancelled while watched
 * leaves its slot armed; disarm it, then give the slot back. */
static void slot_release(void *arg)
{
	struct slot *s = arg;
	bs_ns v = atomic_load(&s->end);
	if (v == CLAIMED || (v != IDLE && !atomic_compare_exchange_strong(&s->end, &v, IDLE)))
		settle(s);
	atomic_store(&s->owned, false);
}

static void in_child(void);

/* The key that releases a thread's slot at its exit, and the fork handler,
 * made once. No pthread_once: a connect in a signal handler that
 * interrupted this very set-up must not wait for it (it goes unwatched). */
static bool key_made(void)
{
	int st = atomic_load_explicit(&key_state, memory_order_acquire);
	if (__builtin_expect(st == 2, 1))
		return true;
	if (st != 0 || !atomic_compare_exchange_strong(&key_state, &st, 1))
		return false;
	bool ok = pthread_key_create(&slot_key, slot_release) == 0 &&
		  pthread_atfork(NULL, NULL, in_child) == 0;
	atomic_store_explicit(&key_state, ok ? 2 : 3, memory_order_release);
	return ok;
}

static struct slot *claim_slot(void)
{
	if (!key_made())
		return atomic_load(&key_state) == 1 ? NULL : (my_slot = NO_SLOT);
	for (uint32_t i = 0; i < SLOTS; i++) {
		bool free_slot = false;
		struct slot *s = &slots[i];
		if (!atomic_compare_exchange_strong(&s->owned, &free_slot, true))
			continue;
		if (pthread_setspecific(slot_key, s) != 0) {
			atomic_store(&s->owned, false);
			break;
		}
		uint32_t hw = atomic_load(&high_water);
		while (hw < i + 1 && !atomic_compare_exchange_weak(&high_water, &hw, i + 1))
			;
		return my_slot = s;
	}
	return my_slot = NO_SLOT;
}

static bool start_thread(void);

/* Whether the watchdog runs, starting it when nobody has. */
static bool watchdog_running(void)
{
	int st = atomic_load_explicit(&state, memory_order_acquire);
	if (__builtin_expect(st == RUNNING, 1))
		return true;
	if (st != STOPPED || !atomic_compare_exchange_strong(&state, &st, STARTING))
		return false; /* failed for good, or another thread starts it */
	bool ok = start_thread();
	atomic_store_explicit(&state, ok ? RUNNING : FAILED, memory_order_release);
	return ok;
}

struct bs_watch *bs_watch_begin(int fd, bs_ns end)
{
	struct slot *s = my_slot;
	if (__builtin_expect(s == NULL, 0))
		s = claim_slot();
	bs_ns idle = IDLE;
	if (s == NULL || s == NO_SLOT || !atomic_compare_exchange_strong(&s->end, &idle, ARMING))
		return NULL;
	if (!watchdog_running()) {
		atomic_store(&s->end, IDLE);
		return NULL;
	}
	atomic_store_explicit(&s->fd, fd, memory_order_relaxed);
	atomic_store_explicit(&s->verdict, PENDING, memory_order_relaxed);
	atomic_store_explicit(&s->arms, atomic_load_explicit(&s->arms, memory_order_relaxed) + 1,
			      memory_order_relaxed);
	atomic_store(&s->end, end > CLAIMED ? end : CLAIMED + 1);
	if (__builtin_expect(end < atomic_load(&wake_at), 0)) {
		atomic_fetch_add(&kick, 1);
		futex(&kick, FUTEX_WAKE_PRIVATE, 1, NULL);
	}
	return (struct bs_watch *)s;
}

bool bs_watch_end(struct bs_watch *w, struct timeval *program_timeout)
{
	struct slot *s = (struct slot *)w;
	bs_ns v = atomic_load_explicit(&s->end, memory_order_relaxed);
	if (__builtin_expect(v != CLAIMED, 1) && atomic_compare_exchange_strong(&s->end, &v, IDLE))
		return false;
	if (settle(s) != ABORTED)
		return false;
	*program_timeout = s->program_timeout;
	return true;
}

/* ---- the watchdog's side ------------------------------------------------- */

/* Abort the claimed attempt of s if its socket is still connecting; a
 * socket in any other state (the connect just finished, or the number
 * now names something else) is left alone. */
static void abort_attempt(struct slot *s)
{
	int fd = atomic_load(&s->fd);
	uint32_t verdict = LEFT;
	struct tcp_info ti;
	socklen_t len = sizeof ti;
	socklen_t tl = sizeof s->program_timeout;
	const struct timeval shortest = { 0, 1 };
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0 &&
	    (ti.tcpi_state == TCP_SYN_SENT || ti.tcpi_state == TCP_SYN_RECV) &&
	    getsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &s->program_timeout, &tl) == 0 &&
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &shortest, sizeof shortest) == 0) {
		shutdown(fd, SHUT_RDWR);
		verdict = ABORTED;
	}
	atomic_store(&s->verdict, verdict);
	futex(&s->verdict, FUTEX_WAKE_PRIVATE, 1, NULL);
}

/* Abort what is overdue at `now`; returns the earliest end still ahead
 * (NEVER if none) and, in *arms, the sum of the slots' attempt counts. */
static bs_ns sweep(bs_ns now, uint32_t *arms)
{
	bs_ns earliest = NEVER;
	uint32_t n = atomic_load(&high_water), sum = 0;
	for (uint32_t i = 0; i < n; i++) {
		struct slot *s = &slots[i];
		sum += atomic_load_explicit(&s->arms, memory_order_relaxed);
		bs_ns end = atomic_load(&s->end);
		if (end <= CLAIMED)
			continue;
		if (end <= now && atomic_compare_exchange_strong(&s->end, &end, CLAIMED))
			abort_attempt(s);
		else if (end > now && end < earliest)
			earliest = end;
	}
	*arms = sum;
	return earliest;
}

static void *watch(void *arg)
{
	(void)arg;
	prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
	prctl(PR_SET_NAME, "backstop-watch", 0, 0, 0);
	uint32_t seen_arms = 0;
	for (;;) {
		uint32_t kicked = atomic_load(&kick);
		bs_ns now = bs_now();
		uint32_t arms;
		bs_ns next = sweep(now, &arms);
		if (next == NEVER && arms != seen_arms)
			next = now + LINGER;
		seen_arms = arms;
		atomic_store(&wake_at, next);
		/* An attempt armed after the sweep whose owner read the
		 * previous wake_at: look again before sleeping. */
		uint32_t ignored;
		if (sweep(bs_now(), &ignored) < next)
			continue;
		struct timespec until = bs_timespec(next);
		futex(&kick, FUTEX_WAIT_BITSET_PRIVATE, kicked, next == NEVER ? NULL : &until);
	}
	return NULL;
}

/* In a forked child only this thread exists: the watchdog must be started
 * again, and every other thread's slot is free. */
static void in_child(void)
{
	atomic_store(&state, STOPPED);
	atomic_store(&wake_at, NEVER);
	for (uint32_t i = 0; i < SLOTS; i++) {
		if (&slots[i] == my_slot)
			continue;
		atomic_store(&slots[i].end, IDLE);
		atomic_store(&slots[i].owned, false);
	}
}

/* The new thread starts with every signal blocked (set here, in the
 * creating thread, so there is no window where it could take one). */
static bool start_thread(void)
{
	int saved = errno;
	pthread_attr_t attr;
	sigset_t all, old;
	pthread_t t;
	bool ok = false;
	if (pthread_attr_init(&attr) == 0) {
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		pthread_attr_setstacksize(&attr, STACK_SIZE);
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		ok = pthread_create(&t, &attr, watch, NULL) == 0;
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		pthread_attr_destroy(&attr);
	}
	errno = saved;
	return ok;
}
