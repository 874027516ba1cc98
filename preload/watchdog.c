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
 * The watchdog publishes when it will next wake (bs_watch_wake_at). An owner whose
 * end is earlier wakes it with a futex (a system call); one whose end is
 * later need not. While connects keep coming the watchdog wakes every
 * "linger" to look, the shortest bound armed since it last looked
 * (clamped to [LINGER_MIN, LINGER_MAX]), so a connect whose bound is no
 * shorter than the ones before never wakes it; after one linger with no
 * connect at all it sleeps with no timeout, and the next connect wakes it
 * once. Slot and bs_watch_wake_at are written seq_cst on both sides (the owner:
 * end, then bs_watch_wake_at read; the watchdog: bs_watch_wake_at, then ends read again), so
 * an end is never missed.
 *
 * The thread blocks every signal, is named "backstop-watch", sets a 1 ns
 * timer slack so that it wakes on time, and is started again lazily in a
 * forked child.
 *
 * On x86-64 and arm64 it is a bare clone() thread that glibc does not know
 * about: once glibc has seen a second thread it stays in its multi-thread
 * mode for good, and every cancellable call of the program (connect,
 * accept, close, read, ...) then pays for cancellation bookkeeping, and
 * malloc and stdio for locks: measured, +40 to +47 instructions per call
 * (docs/benchmarks.md). Such a thread shares the creating thread's TLS
 * pointer, so everything it runs touches no thread-local state: system
 * calls are made inline (no errno), the clock is libc's vDSO call (which
 * writes errno only on failure, impossible for CLOCK_MONOTONIC), and no
 * other libc function is called. Under a sanitizer, whose runtime needs
 * to know every thread, and on other architectures, it is a pthread. */
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
#include <sched.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "preload/real.h"

#if (defined(__x86_64__) || defined(__aarch64__)) && !defined(__SANITIZE_ADDRESS__) && \
	!defined(__SANITIZE_THREAD__)
#define BARE_THREAD 1
#else
#define BARE_THREAD 0
#endif

#define SLOTS 1024             /* threads with a watched connect at once */
#define LINGER_MIN (5 * BS_MS) /* the most often it looks while connects come */
#define LINGER_MAX BS_SEC      /* and the least often */
#define STACK_SIZE (256 * 1024)
#define NEVER UINT64_MAX

enum { IDLE = BS_WATCH_IDLE, ARMING = BS_WATCH_ARMING, CLAIMED = BS_WATCH_CLAIMED };
enum { PENDING, ABORTED, LEFT };            /* verdict */
enum { STOPPED, STARTING, RUNNING = BS_WATCH_RUNNING, FAILED }; /* the thread */

static struct bs_watch slots[SLOTS];
static _Atomic uint32_t high_water; /* 1 + highest slot ever owned */
_Atomic int bs_watch_state = STOPPED;
/* The process the watchdog thread runs in: a child made by a raw clone
 * system call runs no fork handler and inherits RUNNING without it. */
static _Atomic pid_t watchdog_pid;
_Atomic bs_ns bs_watch_wake_at = NEVER;
static _Atomic uint32_t kick;       /* futex word the watchdog sleeps on */

/* The slot of a thread that could get none: always busy, so arming it
 * fails and the attempt is bounded another way. */
static struct bs_watch no_slot = { .end = ARMING };
__thread struct bs_watch *bs_watch_mine __attribute__((tls_model("initial-exec")));
static pthread_key_t slot_key;
static _Atomic int key_state; /* 0 none, 1 being made, 2 made, 3 failed */

/* A system call that leaves errno alone: returns the result or -errno. */
static long sys6(long n, long a, long b, long c, long d, long e, long f)
{
#if defined(__x86_64__) && BARE_THREAD
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	register long r9 __asm__("r9") = f;
	long ret;
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
#elif defined(__aarch64__) && BARE_THREAD
	register long x8 __asm__("x8") = n;
	register long x0 __asm__("x0") = a;
	register long x1 __asm__("x1") = b;
	register long x2 __asm__("x2") = c;
	register long x3 __asm__("x3") = d;
	register long x4 __asm__("x4") = e;
	register long x5 __asm__("x5") = f;
	__asm__ volatile("svc 0"
			 : "+r"(x0)
			 : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5)
			 : "memory");
	return x0;
#else
	int saved = errno;
	long ret = syscall(n, a, b, c, d, e, f);
	if (ret < 0)
		ret = -errno;
	errno = saved;
	return ret;
#endif
}

static long futex(_Atomic uint32_t *word, int op, uint32_t val, const struct timespec *ts)
{
	return sys6(SYS_futex, (long)word, op, val, (long)ts, 0, FUTEX_BITSET_MATCH_ANY);
}

/* ---- the owner's side ---------------------------------------------------- */

/* Wait for the watchdog's verdict on a claimed attempt, then free the slot. */
static uint32_t settle(struct bs_watch *s)
{
	uint32_t v;
	while ((v = atomic_load(&s->verdict)) == PENDING)
		futex(&s->verdict, FUTEX_WAIT_PRIVATE, PENDING, NULL);
	atomic_store(&s->verdict, PENDING); /* ready for the next attempt: arming skips it */
	atomic_store(&s->end, IDLE);
	return v;
}

/* Thread exit (pthread key destructor): give the slot back, disarmed. A
 * cancelled watched connect disarmed it already (bs_attempt_cancelled);
 * one left by a longjmp out of a signal handler is still armed. */
static void slot_release(void *arg)
{
	struct bs_watch *s = arg;
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

static struct bs_watch *claim_slot(void)
{
	if (!key_made())
		return atomic_load(&key_state) == 1 ? NULL : (bs_watch_mine = &no_slot);
	for (uint32_t i = 0; i < SLOTS; i++) {
		bool free_slot = false;
		struct bs_watch *s = &slots[i];
		if (!atomic_compare_exchange_strong(&s->owned, &free_slot, true))
			continue;
		if (pthread_setspecific(slot_key, s) != 0) {
			atomic_store(&s->owned, false);
			break;
		}
		uint32_t hw = atomic_load(&high_water);
		while (hw < i + 1 && !atomic_compare_exchange_weak(&high_water, &hw, i + 1))
			;
		return bs_watch_mine = s;
	}
	return bs_watch_mine = &no_slot;
}

static bool start_thread(void);

/* Whether the watchdog runs, starting it when nobody has. */
static bool watchdog_running(void)
{
	int st = atomic_load_explicit(&bs_watch_state, memory_order_acquire);
	if (__builtin_expect(st == RUNNING, 1))
		return true;
	if (st != STOPPED || !atomic_compare_exchange_strong(&bs_watch_state, &st, STARTING))
		return false; /* failed for good, or another thread starts it */
	bool ok = start_thread();
	if (ok)
		atomic_store(&watchdog_pid, (pid_t)syscall(SYS_getpid));
	atomic_store_explicit(&bs_watch_state, ok ? RUNNING : FAILED, memory_order_release);
	return ok;
}

bool bs_watchdog_here(void)
{
	return atomic_load_explicit(&bs_watch_state, memory_order_acquire) == RUNNING &&
	       atomic_load(&watchdog_pid) == (pid_t)syscall(SYS_getpid);
}

/* bs_watch_begin when this thread has no slot yet or the watchdog does
 * not run: claim one and start it, then arm as usual. errno is kept. */
struct bs_watch *bs_watch_begin_slow(int fd, bs_ns now, bs_ns end)
{
	int saved = errno; /* the connect wrapper's success path leaves it to us */
	bool ready = (bs_watch_mine != NULL || claim_slot() != NULL) && watchdog_running();
	errno = saved;
	return ready ? bs_watch_begin(fd, now, end) : NULL;
}

void bs_watch_kick(void)
{
	atomic_fetch_add(&kick, 1);
	futex(&kick, FUTEX_WAKE_PRIVATE, 1, NULL);
}

bool bs_watch_settle(struct bs_watch *w, struct timeval *program_timeout)
{
	if (settle(w) != ABORTED)
		return false;
	*program_timeout = w->program_timeout;
	return true;
}

/* A futex wait with no timeout ends with ERESTARTSYS on a signal, which
 * the kernel turns into a restart or EINTR by the handler's SA_RESTART (a
 * timeout would make it EINTR always). The thread is cancellable only for
 * the wait, asynchronously, as glibc makes its own blocking calls: the
 * unwinder then starts in this frame, which has no cleanup of its own, so
 * the caller's runs (it needs a call site, not an instruction, to run). */
__attribute__((noinline)) int bs_watch_wait(struct bs_watch *w)
{
	int type, err = 0;
	pthread_setcanceltype(PTHREAD_CANCEL_ASYNCHRONOUS, &type);
	while (err == 0 && atomic_load(&w->verdict) == PENDING)
		if (futex(&w->verdict, FUTEX_WAIT_PRIVATE, PENDING, NULL) == -EINTR)
			err = EINTR;
	pthread_setcanceltype(type, NULL);
	return err;
}

/* ---- the watchdog's side ------------------------------------------------- */

/* Abort the claimed attempt of s if its socket is still connecting; a
 * socket in any other state (the connect just finished, or the number
 * now names something else) is left alone, and a pause (no socket) ends. */
static void abort_attempt(struct bs_watch *s)
{
	long fd = atomic_load(&s->fd);
	uint32_t verdict = LEFT;
	struct tcp_info ti;
	socklen_t len = sizeof ti;
	socklen_t tl = sizeof s->program_timeout;
	const struct timeval shortest = { 0, 1 };
	if (fd >= 0 && sys6(SYS_getsockopt, fd, IPPROTO_TCP, TCP_INFO, (long)&ti, (long)&len, 0) == 0 &&
	    (ti.tcpi_state == TCP_SYN_SENT || ti.tcpi_state == TCP_SYN_RECV) &&
	    sys6(SYS_getsockopt, fd, SOL_SOCKET, SO_SNDTIMEO, (long)&s->program_timeout,
		 (long)&tl, 0) == 0 &&
	    sys6(SYS_setsockopt, fd, SOL_SOCKET, SO_SNDTIMEO, (long)&shortest,
		 sizeof shortest, 0) == 0) {
		sys6(SYS_shutdown, fd, SHUT_RDWR, 0, 0, 0, 0);
		verdict = ABORTED;
	}
	atomic_store(&s->verdict, verdict);
	futex(&s->verdict, FUTEX_WAKE_PRIVATE, 1, NULL);
}

/* The slots' attempt counts as the watchdog last saw them. */
static uint32_t seen_arms[SLOTS];

/* Abort what is overdue at `now`; returns the earliest end still ahead
 * (NEVER if none) and, in *shortest, the shortest bound of the attempts
 * armed since the last sweep (NEVER if none was). */
static bs_ns sweep(bs_ns now, bs_ns *shortest)
{
	bs_ns earliest = NEVER;
	uint32_t n = atomic_load(&high_water);
	*shortest = NEVER;
	for (uint32_t i = 0; i < n; i++) {
		struct bs_watch *s = &slots[i];
		uint32_t arms = atomic_load_explicit(&s->arms, memory_order_relaxed);
		if (arms != seen_arms[i]) {
			seen_arms[i] = arms;
			bs_ns bound = atomic_load_explicit(&s->bound, memory_order_relaxed);
			*shortest = bound < *shortest ? bound : *shortest;
		}
		bs_ns end = atomic_load(&s->end);
		if (end <= CLAIMED)
			continue;
		if (end <= now && atomic_compare_exchange_strong(&s->end, &end, CLAIMED))
			abort_attempt(s);
		else if (end > now && end < earliest)
			earliest = end;
	}
	return earliest;
}

/* The earliest end armed now, looked at without acting. */
static bs_ns earliest_end(void)
{
	bs_ns earliest = NEVER;
	uint32_t n = atomic_load(&high_water);
	for (uint32_t i = 0; i < n; i++) {
		bs_ns end = atomic_load(&slots[i].end);
		if (end > CLAIMED && end < earliest)
			earliest = end;
	}
	return earliest;
}

static bs_ns clock_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts); /* not bs_now: keep the call visible */
	return (bs_ns)ts.tv_sec * BS_SEC + (bs_ns)ts.tv_nsec;
}

static int watch(void *arg)
{
	(void)arg;
	uint64_t all = ~(uint64_t)0;
	sys6(SYS_rt_sigprocmask, SIG_SETMASK, (long)&all, 0, sizeof all, 0, 0);
	sys6(SYS_prctl, PR_SET_TIMERSLACK, 1, 0, 0, 0, 0);
	sys6(SYS_prctl, PR_SET_NAME, (long)"backstop-watch", 0, 0, 0, 0);
	for (;;) {
		uint32_t kicked = atomic_load(&kick);
		bs_ns now = clock_now();
		bs_ns shortest;
		bs_ns next = sweep(now, &shortest);
		if (next == NEVER && shortest != NEVER)
			next = now + (shortest < LINGER_MIN ? LINGER_MIN :
				      shortest > LINGER_MAX ? LINGER_MAX : shortest);
		atomic_store(&bs_watch_wake_at, next);
		/* An attempt armed after the sweep whose owner read the
		 * previous bs_watch_wake_at: look again before sleeping. */
		if (earliest_end() < next)
			continue;
		struct timespec until = { .tv_sec = (time_t)(next / BS_SEC),
					  .tv_nsec = (long)(next % BS_SEC) };
		futex(&kick, FUTEX_WAIT_BITSET_PRIVATE, kicked, next == NEVER ? NULL : &until);
	}
	return 0;
}

/* In a forked child only this thread exists: the watchdog must be started
 * again, and every other thread's slot is free. */
static void in_child(void)
{
	atomic_store(&bs_watch_state, STOPPED);
	atomic_store(&bs_watch_wake_at, NEVER);
	for (uint32_t i = 0; i < SLOTS; i++) {
		if (&slots[i] == bs_watch_mine)
			continue;
		atomic_store(&slots[i].end, IDLE);
		atomic_store(&slots[i].verdict, PENDING);
		atomic_store(&slots[i].owned, false);
	}
}

#if BARE_THREAD
/* Kept across a fork: the child's watchdog reuses the parent's stack. */
static void *stack;

static bool spawn(void)
{
	if (stack == NULL) {
		void *p = mmap(NULL, STACK_SIZE, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK | MAP_NORESERVE, -1, 0);
		if (p == MAP_FAILED)
			return false;
		mprotect(p, 4096, PROT_NONE); /* guard page */
		stack = p;
	}
	const int flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD |
			  CLONE_SYSVSEM;
	/* libc's clone, not the program's (preload/sharedchild.c): a thread
	 * shares the memory as it should and is nobody's child to count. */
	int (*real_clone)(int (*)(void *), void *, int, void *, ...) = BS_REAL(clone);
	return real_clone != NULL && real_clone(watch, (char *)stack + STACK_SIZE, flags, NULL) > 0;
}
#else
static void *run_watch(void *arg)
{
	watch(arg);
	return NULL;
}

static bool spawn(void)
{
	pthread_attr_t attr;
	pthread_t t;
	if (pthread_attr_init(&attr) != 0)
		return false;
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, STACK_SIZE);
	bool ok = pthread_create(&t, &attr, run_watch, NULL) == 0;
	pthread_attr_destroy(&attr);
	return ok;
}
#endif

/* The new thread starts with every signal blocked (set here, in the
 * creating thread, so there is no window where it could take one). */
static bool start_thread(void)
{
	int saved = errno;
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	bool ok = spawn();
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	errno = saved;
	return ok;
}
