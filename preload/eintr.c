/* Whether an EINTR from a bounded blocking attempt is one the program
 * would have seen from a plain connect (see eintr.h). */
#include "preload/eintr.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

/* Signals the thread's own faults raise: they never interrupt a blocked
 * system call, and crash handlers (and sanitizer runtimes) install them
 * without SA_RESTART. */
static bool fault_signal(int sig)
{
	return sig == SIGSEGV || sig == SIGBUS || sig == SIGFPE || sig == SIGILL ||
	       sig == SIGTRAP || sig == SIGSYS;
}

/* Whether the handler that just interrupted this thread asked for its call
 * to be restarted (SA_RESTART), as the kernel would for a plain connect.
 * Which signal it was is not known here, so: only when every signal this
 * thread can receive and catches (fault signals aside) is SA_RESTART.
 * Runs after EINTR only. */
/* Whether a signal outside `blocked` (NULL: none) has a handler without
 * SA_RESTART. One sigaction call per signal. */
static bool interrupting_handler(const sigset_t *blocked)
{
	for (int sig = 1; sig < NSIG; sig++) {
		struct sigaction sa;
		if (fault_signal(sig) || (blocked && sigismember(blocked, sig) == 1) ||
		    sigaction(sig, NULL, &sa) != 0)
			continue;
		bool caught = (sa.sa_flags & SA_SIGINFO) ? sa.sa_sigaction != NULL :
			      sa.sa_handler != SIG_DFL && sa.sa_handler != SIG_IGN;
		if (caught && !(sa.sa_flags & SA_RESTART))
			return true;
	}
	return false;
}

bool bs_handlers_restart(void)
{
	sigset_t blocked;
	return pthread_sigmask(SIG_BLOCK, NULL, &blocked) == 0 &&
	       !interrupting_handler(&blocked);
}

#define SCAN_EVERY_NS 1000000000ull

/* The process-wide answer of interrupting_handler, at most a second old:
 * holding SIGCONT costs two system calls per attempt, and is only worth
 * it when an EINTR could be either a handler's or a stop's. */
static _Atomic uint64_t scanned_at; /* CLOCK_MONOTONIC_COARSE ns, | 1; 0: never */
static atomic_bool interrupting;

static bool interrupting_handler_recently(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	uint64_t now = ((uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec) | 1;
	uint64_t last = atomic_load_explicit(&scanned_at, memory_order_acquire);
	if (last != 0 && now - last < SCAN_EVERY_NS)
		return atomic_load_explicit(&interrupting, memory_order_relaxed);
	bool any = interrupting_handler(NULL);
	atomic_store_explicit(&interrupting, any, memory_order_relaxed);
	atomic_store_explicit(&scanned_at, now, memory_order_release);
	return any;
}

/* Job control (^Z, then fg) stops and continues a thread blocked in
 * connect without running any handler, and a plain connect goes on as if
 * nothing happened; but an attempt bounded by SO_SNDTIMEO ends with EINTR
 * then (a socket call with a timeout is never restarted). SIGCONT, held
 * pending for the attempt, tells the two apart: after EINTR it is pending
 * exactly when the process was continued. Held only when the program
 * does not block SIGCONT itself; taken back with sigtimedwait when its
 * action is the default one (a handler of the program's runs when the
 * mask is restored, and the usual SA_RESTART rule decides). Held only in
 * a process where some handler lacks SA_RESTART (looked at once a second:
 * otherwise every EINTR is resumed anyway). Limits: in a process whose
 * other threads leave SIGCONT unblocked, the kernel may discard it at one
 * of those; and within a second of installing its first such handler; in
 * both cases EINTR surfaces as before. */
bool bs_sigcont_hold(sigset_t *before)
{
	if (!interrupting_handler_recently())
		return false; /* every EINTR is resumed anyway */
	sigset_t cont;
	sigemptyset(&cont);
	sigaddset(&cont, SIGCONT);
	return pthread_sigmask(SIG_BLOCK, &cont, before) == 0 &&
	       sigismember(before, SIGCONT) == 0;
}

bool bs_sigcont_only_continued(void)
{
	sigset_t pending, cont;
	struct sigaction sa;
	if (sigpending(&pending) != 0 || sigismember(&pending, SIGCONT) != 1 ||
	    sigaction(SIGCONT, NULL, &sa) != 0 || (sa.sa_flags & SA_SIGINFO) ||
	    (sa.sa_handler != SIG_DFL && sa.sa_handler != SIG_IGN))
		return false;
	sigemptyset(&cont);
	sigaddset(&cont, SIGCONT);
	struct timespec zero = { 0, 0 };
	sigtimedwait(&cont, NULL, &zero);
	return true;
}
