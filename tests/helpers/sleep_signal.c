/* The interruption contract of the four sleep wrappers. After two failed
 * connects (so that under backstop the sleeps are retry sleeps, doubled
 * by backoff), each wrapper sleeps 5 s and SIGALRM interrupts it after
 * 50 ms. Prints one "contract" line per case (identical with and without
 * backstop) and one "left" line with the whole seconds left (which tell
 * the length of the sleep actually taken).
 *
 *   sleep_signal */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "sleep_fail.h"

static void on_alarm(int sig)
{
	(void)sig;
}

static void alarm_soon(void)
{
	struct itimerval it = {.it_value = {0, 50000}};
	setitimer(ITIMER_REAL, &it, NULL);
}

static const char *ename(int e)
{
	return e ? strerrorname_np(e) : "0";
}

static void report(const char *what, long ret, int err, const struct timespec *rem)
{
	printf("contract %s ret=%ld errno=%s", what, ret, ename(err));
	if (rem)
		printf(" rem>0=%d", rem->tv_sec > 0 || rem->tv_nsec > 0);
	printf("\n");
	if (rem)
		printf("left %s %ld\n", what, (long)rem->tv_sec);
}

int main(void)
{
	struct sigaction sa = {.sa_handler = on_alarm}; /* no SA_RESTART */
	sigaction(SIGALRM, &sa, NULL);
	fail_connects(2);
	const struct timespec five = {5, 0}, short_ts = {0, 1000000};
	struct timespec rem;
	long r;

	alarm_soon();
	errno = 0;
	r = nanosleep(&five, &rem);
	report("nanosleep", r, errno, &rem);

	alarm_soon();
	errno = ENOTTY; /* clock_nanosleep returns its error, errno untouched */
	r = clock_nanosleep(CLOCK_MONOTONIC, 0, &five, &rem);
	report("clock_nanosleep", r, errno, &rem);

	alarm_soon();
	errno = 0;
	r = usleep(5000000);
	report("usleep", r, errno, NULL);

	alarm_soon();
	errno = 0;
	r = sleep(5);
	report("sleep", r > 0, errno, NULL);
	printf("left sleep %ld\n", r);

	/* Completed sleeps leave errno alone. */
	errno = ENOTTY;
	r = nanosleep(&short_ts, NULL);
	report("nanosleep-complete", r, errno, NULL);

	/* Passed through untouched: absolute times and other clocks. */
	struct timespec at;
	clock_gettime(CLOCK_MONOTONIC, &at);
	at.tv_nsec += 1000000;
	if (at.tv_nsec >= 1000000000) {
		at.tv_sec++;
		at.tv_nsec -= 1000000000;
	}
	errno = ENOTTY;
	r = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, NULL);
	report("clock_nanosleep-abstime", r, errno, NULL);
	r = clock_nanosleep(CLOCK_BOOTTIME, 0, &short_ts, NULL);
	report("clock_nanosleep-boottime", r, errno, NULL);

	/* Invalid requests keep libc's error. */
	const struct timespec bad = {0, 1000000000};
	errno = 0;
	r = nanosleep(&bad, NULL);
	report("nanosleep-invalid", r, errno, NULL);
	r = clock_nanosleep(CLOCK_MONOTONIC, 0, &bad, NULL);
	report("clock_nanosleep-invalid", r, errno, NULL);
	return 0;
}
