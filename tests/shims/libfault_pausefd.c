/* Fault injection for the backoff pause (test_fault_pause.sh): a double
 * close in the program, at the worst moment. Preloaded beside
 * libbackstop-preload.so, this shim's timerfd_settime is the one the
 * library calls: once the timer is armed, it closes that descriptor, as a
 * thread of the program closing a number it had closed once already
 * would, and a new pipe's read end takes the number (its write end stays
 * open, so a read of the number blocks for good). It says so on stderr.
 * A pause that holds no descriptor of the program's table never meets
 * it. */
#include <dlfcn.h>
#include <stdio.h>
#include <sys/timerfd.h>
#include <unistd.h>

typedef int settime_fn(int, int, const struct itimerspec *, struct itimerspec *);

int timerfd_settime(int fd, int flags, const struct itimerspec *value, struct itimerspec *old)
{
	settime_fn *real = (settime_fn *)dlsym(RTLD_NEXT, "timerfd_settime");
	int r = real(fd, flags, value, old);
	int p[2];
	if (r == 0 && close(fd) == 0 && pipe(p) == 0) {
		if (p[0] != fd) {
			dup2(p[0], fd);
			close(p[0]);
		}
		fprintf(stderr, "libfault_pausefd: descriptor %d closed and reused\n", fd);
	}
	return r;
}
