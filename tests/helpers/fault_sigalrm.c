/* A program under a SIGALRM storm: a POSIX timer fires every millisecond
 * into a handler installed with SA_RESTART while the program makes one
 * blocking connect and then one nanosleep (resumed with rem on EINTR, as a
 * careful program does).
 *
 *   fault_sigalrm DEST [crash-handler]      DEST = 127.0.0.1:PORT
 *
 * crash-handler: also install a SIGSEGV handler without SA_RESTART, as
 * crash reporters (and sanitizer runtimes) do.
 *
 * Prints "connect rc=R errno=NAME", "sleep rc=R", and the signal account:
 * "expirations=E handled=H" where E is the timer's expirations over the
 * time it ran (from CLOCK_MONOTONIC, the timer's own clock) and H the
 * handler runs plus the overruns the kernel reported with them (coalesced
 * expirations are not lost signals). The caller compares them. */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t handled;

static void on_alarm(int sig, siginfo_t *si, void *uc)
{
	(void)sig, (void)uc;
	handled += 1 + si->si_overrun;
}

static void on_crash(int sig)
{
	signal(sig, SIG_DFL);
	raise(sig);
}

static long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	char host[64];
	int port;
	if (argc < 2 || argc > 3 || (argc == 3 && strcmp(argv[2], "crash-handler") != 0) ||
	    sscanf(argv[1], "%63[^:]:%d", host, &port) != 2 ||
	    inet_pton(AF_INET, host, &sin.sin_addr) != 1) {
		fprintf(stderr, "usage: fault_sigalrm 127.0.0.1:PORT [crash-handler]\n");
		return 2;
	}
	sin.sin_port = htons((uint16_t)port);

	struct sigaction sa = {.sa_sigaction = on_alarm, .sa_flags = SA_SIGINFO | SA_RESTART};
	sigemptyset(&sa.sa_mask);
	struct sigevent sev = {.sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGALRM};
	timer_t timer;
	struct itimerspec every_ms = {.it_interval = {0, 1000000}, .it_value = {0, 1000000}};
	struct sigaction crash = {.sa_handler = on_crash};
	sigemptyset(&crash.sa_mask);
	if (argc == 3 && sigaction(SIGSEGV, &crash, NULL) != 0)
		return 2;
	if (sigaction(SIGALRM, &sa, NULL) != 0 ||
	    timer_create(CLOCK_MONOTONIC, &sev, &timer) != 0) {
		perror("fault_sigalrm: setup");
		return 2;
	}
	long long start = now_ns();
	timer_settime(timer, 0, &every_ms, NULL);

	int fd = socket(AF_INET, SOCK_STREAM, 0);
	int rc = connect(fd, (struct sockaddr *)&sin, sizeof sin);
	int err = rc == 0 ? 0 : errno;
	printf("connect rc=%d errno=%s\n", rc, err ? strerrorname_np(err) : "0");
	close(fd);

	struct timespec req = {0, 50000000}, rem;
	while ((rc = nanosleep(&req, &rem)) != 0 && errno == EINTR)
		req = rem;
	printf("sleep rc=%d\n", rc);

	/* Stop the timer with SIGALRM held, then let a pending one in. */
	sigset_t alrm;
	sigemptyset(&alrm);
	sigaddset(&alrm, SIGALRM);
	sigprocmask(SIG_BLOCK, &alrm, NULL);
	timer_delete(timer);
	long long elapsed = now_ns() - start;
	sigprocmask(SIG_UNBLOCK, &alrm, NULL);
	printf("expirations=%lld handled=%d\n", elapsed / 1000000, (int)handled);
	return 0;
}
