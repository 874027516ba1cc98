/* The sleep family: sleep, usleep, nanosleep and clock_nanosleep. glibc's
 * sleep and usleep reach nanosleep without going through the PLT, so all
 * four are interposed. A sleep the policy leaves alone goes to the real
 * function unchanged; an adjusted one goes to the real nanosleep or
 * clock_nanosleep with the new duration, so that interruption (EINTR and
 * the remaining time of the sleep actually taken), error conventions and
 * cancellation points are libc's own. */
#include <errno.h>
#include <stdbool.h>
#include <time.h>
#include <unistd.h>

#include "engine/sleepadj.h"
#include "preload/real.h"
#include "preload/runtime.h"

static __thread struct bs_sleep_state tls_sleep
	__attribute__((tls_model("initial-exec")));

/* Only a failure is dated: a success (the fast path) just resets the
 * streak and needs no clock. The caller's own last reading is from before
 * its last attempt, which may have lasted up to attempt_timeout, so a
 * failure reads the clock afresh. */
void bs_sleep_note_connect(int err)
{
	bs_sleep_state_note(&tls_sleep, err, err != 0 ? bs_now() : 0);
}

static void log_adjust(struct bs_runtime *rt, bs_ns requested, bs_ns actual,
		       uint32_t streak)
{
	struct bs_logline line;
	bs_line_begin(&line, &rt->log, "sleep.adjust");
	bs_line_ms(&line, "requested_ms", requested);
	bs_line_ms(&line, "actual_ms", actual);
	bs_line_int(&line, "streak", streak);
	bs_line_emit(&line, &rt->log);
}

/* Whether the relative sleep `req` is to be changed, and to what (*out).
 * Invalid or enormous requests are left to libc. errno is preserved. */
bool bs_sleep_adjusted(const struct timespec *req, struct timespec *out)
{
	struct bs_runtime *rt = bs_runtime();
	if (rt == NULL || req == NULL)
		return false;
	const struct bs_sleep_policy *p = &rt->policy->sleep;
	/* Fast path: retry mode with no failed connect on this thread. */
	if (p->mode == BS_SLEEP_OFF ||
	    (p->mode == BS_SLEEP_RETRY && tls_sleep.streak == 0))
		return false;
	if (req->tv_sec < 0 || req->tv_nsec < 0 || req->tv_nsec >= (long)BS_SEC ||
	    (uint64_t)req->tv_sec > UINT64_MAX / BS_SEC / 2)
		return false;
	int saved = errno;
	bs_ns requested = (bs_ns)req->tv_sec * BS_SEC + (bs_ns)req->tv_nsec;
	uint32_t streak = bs_sleep_retry_streak(p, &tls_sleep, bs_now());
	bs_ns actual = bs_sleep_adjust(p, requested, streak, bs_thread_rng());
	if (actual != requested) {
		*out = bs_timespec(actual);
		log_adjust(rt, requested, actual, streak);
	}
	errno = saved;
	return actual != requested;
}

BS_EXPORT int nanosleep(const struct timespec *req, struct timespec *rem)
{
	struct timespec adj;
	return BS_REAL(nanosleep)(bs_sleep_adjusted(req, &adj) ? &adj : req, rem);
}

BS_EXPORT int clock_nanosleep(clockid_t clock, int flags,
			      const struct timespec *req, struct timespec *rem)
{
	struct timespec adj;
	bool relative = !(flags & TIMER_ABSTIME) &&
			(clock == CLOCK_REALTIME || clock == CLOCK_MONOTONIC);
	if (relative && bs_sleep_adjusted(req, &adj))
		req = &adj;
	return BS_REAL(clock_nanosleep)(clock, flags, req, rem);
}

BS_EXPORT int usleep(useconds_t usec)
{
	struct timespec req = {
		.tv_sec = (time_t)(usec / 1000000),
		.tv_nsec = (long)(usec % 1000000) * 1000,
	}, adj;
	if (bs_sleep_adjusted(&req, &adj))
		return BS_REAL(nanosleep)(&adj, NULL);
	return BS_REAL(usleep)(usec);
}

/* Like glibc's: interrupted, it returns the whole seconds left of the
 * sleep actually taken (truncated, as glibc 2.36 does) with errno EINTR;
 * completed, errno is as before the call. */
BS_EXPORT unsigned int sleep(unsigned int seconds)
{
	struct timespec req = {.tv_sec = (time_t)seconds, .tv_nsec = 0}, adj, rem;
	if (!bs_sleep_adjusted(&req, &adj))
		return BS_REAL(sleep)(seconds);
	int saved = errno;
	if (BS_REAL(nanosleep)(&adj, &rem) < 0)
		return (unsigned int)rem.tv_sec;
	errno = saved;
	return 0;
}
