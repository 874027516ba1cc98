/* A retry sleep resumed after signals (issue 10, defect 5). After two
 * failed connects (so that under backstop the next sleep is a retry
 * sleep), a 5 ms SA_RESTART interval timer runs while the program sleeps
 * 100 ms the way POSIX programs resume a sleep: nanosleep(&req, &rem);
 * req = rem (or 3 s with sleep(), resumed with the seconds it returns). Prints how many times the sleep was interrupted; under
 * backstop the log must show one sleep.adjust line, not one per
 * resumption (each remainder used to be grown and jittered again).
 *
 *   sleep_resume nanosleep|sleep */
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

int main(int argc, char **argv)
{
	const char *how = argc > 1 ? argv[1] : "nanosleep";
	struct sigaction sa = {.sa_handler = on_alarm, .sa_flags = SA_RESTART};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	fail_connects(2);
	struct itimerval it = {.it_interval = {0, 5000}, .it_value = {0, 5000}};
	setitimer(ITIMER_REAL, &it, NULL);
	unsigned interrupted = 0;
	if (strcmp(how, "sleep") == 0) {
		/* sleep(): the whole seconds left (truncated), resumed the
		 * same way: each resumption is a second shorter. */
		for (unsigned left = 3; (left = sleep(left)) != 0;)
			interrupted++;
	} else {
		struct timespec req = {0, 100 * 1000 * 1000}, rem;
		while (nanosleep(&req, &rem) != 0 && errno == EINTR) {
			interrupted++;
			req = rem;
		}
	}
	struct itimerval off = {0};
	setitimer(ITIMER_REAL, &off, NULL);
	printf("interrupted=%u\n", interrupted);
	return 0;
}
