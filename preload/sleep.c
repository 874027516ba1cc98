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

__thread struct bs_sleep_state bs_thread_sleep __attribute__((tls_model("initial-exec")));
#define tls_sleep bs_thread_sleep

/* Only a failure is dated: a success just resets the streak and needs no
 * clock. The caller's own last reading is from before its last attempt,
 * which may have lasted up to attempt_timeout, so a failure reads the
 * clock afresh. */
void bs_sleep_note_outcome(int err)
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

static bool to_ns(const struct timespec *ts, bs_ns *out)
{
	if (ts == NULL || ts->tv_sec < 0 || ts->tv_nsec < 0 || ts->tv_nsec >= (long)BS_SEC ||
	    (uint64_t)ts->tv_sec > UINT64_MAX / BS_SEC / 2)
		return false; /* invalid or enormous: libc's to judge */
	*out = (bs_ns)ts->tv_sec * BS_SEC + (bs_ns)ts->tv_nsec;
	return true;
}

/* The sleep policy when a sleep may concern it, else NULL. The fast path:
 * retry mode with no failed connect on this thread. */
static const struct bs_sleep_policy *policy_for_sleep(struct bs_runtime **rt)
{
	*rt = bs_runtime();
	if (*rt == NULL)
		return NULL;
	const struct bs_sleep_policy *p = &(*rt)->policy->sleep;
	if (p->mode == BS_SLEEP_OFF || (p->mode == BS_SLEEP_RETRY && tls_sleep.streak == 0))
		return NULL;
	return p;
}

/* A sleep of `requested` from now, under the policy: its new length
 * (logged when it changed). */
static bs_ns adjust(struct bs_runtime *rt, const struct bs_sleep_policy *p,
		    bs_ns requested, bs_ns now)
{
	uint32_t streak = bs_sleep_retry_streak(p, &tls_sleep, now);
	bs_ns actual = bs_sleep_adjust(p, requested, streak, bs_thread_rng());
	if (actual != requested)
		log_adjust(rt, requested, actual, streak);
	return actual;
}

/* The relative sleep to take for `req`: req itself or *out. *tracked says
 * whether it is a retry sleep (adjusted, or the resumption of one after
 * a signal, which runs unchanged), whose remainder must be noted if it is
 * interrupted in turn. errno is preserved. */
static const struct timespec *plan(const struct timespec *req, struct timespec *out,
				   bool *tracked)
{
	struct bs_runtime *rt;
	const struct bs_sleep_policy *p = policy_for_sleep(&rt);
	bs_ns requested;
	*tracked = false;
	if (p == NULL || !to_ns(req, &requested))
		return req;
	if (bs_sleep_resumes(&tls_sleep, requested)) {
		*tracked = true;
		return req;
	}
	int saved = errno;
	bs_ns actual = adjust(rt, p, requested, bs_now());
	*tracked = true;
	*out = bs_timespec(actual);
	errno = saved;
	return actual != requested ? out : req;
}

/* Whether the relative sleep `req` is to be changed, and to what (*out):
 * for the pure sleeps of the readiness calls (poll or select with no
 * descriptors), whose interruption has no remainder to resume with.
 * errno is preserved. */
bool bs_sleep_adjusted(const struct timespec *req, struct timespec *out)
{
	bool tracked;
	return plan(req, out, &tracked) != req;
}

/* An absolute CLOCK_MONOTONIC sleep (Python 3.11's time.sleep) is a
 * relative one in disguise: its length is the deadline less now. An
 * adjusted one is remembered, so that the same deadline asked again after
 * a signal (Python resumes that way) gets the same new deadline instead of
 * a fresh draw. */
static const struct timespec *plan_absolute(const struct timespec *req,
					    struct timespec *out)
{
	struct bs_runtime *rt;
	const struct bs_sleep_policy *p = policy_for_sleep(&rt);
	bs_ns deadline, given;
	if (p == NULL || !to_ns(req, &deadline))
		return req;
	if (!bs_sleep_abs_resumes(&tls_sleep, deadline, &given)) {
		int saved = errno;
		bs_ns now = bs_now();
		given = deadline;
		if (deadline > now)
			given = now + adjust(rt, p, deadline - now, now);
		if (given != deadline)
			bs_sleep_abs_note(&tls_sleep, deadline, given);
		errno = saved;
	}
	if (given == deadline)
		return req;
	*out = bs_timespec(given);
	return out;
}

static void note_left(const struct timespec *rem)
{
	bs_ns left;
	if (to_ns(rem, &left))
		bs_sleep_interrupted(&tls_sleep, left);
}

BS_EXPORT int nanosleep(const struct timespec *req, struct timespec *rem)
{
	struct timespec adj;
	bool tracked;
	int r = BS_REAL(nanosleep)(plan(req, &adj, &tracked), rem);
	if (tracked && r != 0 && errno == EINTR && rem != NULL)
		note_left(rem);
	return r;
}

BS_EXPORT int clock_nanosleep(clockid_t clock, int flags,
			      const struct timespec *req, struct timespec *rem)
{
	struct timespec adj;
	bool tracked = false;
	if (flags & TIMER_ABSTIME) {
		if (clock == CLOCK_MONOTONIC)
			req = plan_absolute(req, &adj);
		return BS_REAL(clock_nanosleep)(clock, flags, req, rem);
	}
	if (clock == CLOCK_REALTIME || clock == CLOCK_MONOTONIC)
		req = plan(req, &adj, &tracked);
	int r = BS_REAL(clock_nanosleep)(clock, flags, req, rem);
	if (tracked && r == EINTR && rem != NULL)
		note_left(rem);
	return r;
}

BS_EXPORT int usleep(useconds_t usec)
{
	struct timespec req = {
		.tv_sec = (time_t)(usec / 1000000),
		.tv_nsec = (long)(usec % 1000000) * 1000,
	}, adj;
	bool tracked;
	if (plan(&req, &adj, &tracked) != &req)
		return BS_REAL(nanosleep)(&adj, NULL);
	return BS_REAL(usleep)(usec);
}

/* Like glibc's: interrupted, it returns the whole seconds left of the
 * sleep actually taken (truncated, as glibc 2.36 does) with errno EINTR;
 * completed, errno is as before the call. The seconds left are what a
 * program resumes with (`while ((left = sleep(left)))`). */
BS_EXPORT unsigned int sleep(unsigned int seconds)
{
	struct timespec req = {.tv_sec = (time_t)seconds, .tv_nsec = 0}, adj, rem;
	bool tracked;
	unsigned int left;
	if (plan(&req, &adj, &tracked) == &req) {
		left = BS_REAL(sleep)(seconds);
	} else {
		int saved = errno;
		bool cut = BS_REAL(nanosleep)(&adj, &rem) < 0;
		left = cut ? (unsigned int)rem.tv_sec : 0;
		if (!cut)
			errno = saved;
	}
	if (tracked && left != 0)
		bs_sleep_interrupted(&tls_sleep, (bs_ns)left * BS_SEC);
	return left;
}
