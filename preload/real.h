/* The real libc functions behind the interposed ones, found with
 * dlsym(RTLD_NEXT) once and cached. BS_REAL(name) is usable before the
 * library's constructor has run. */
#ifndef BS_REAL_H
#define BS_REAL_H

#include <poll.h>
#include <stddef.h>
#include <sys/socket.h>
#include <time.h>

struct bs_real {
	int (*connect)(int, const struct sockaddr *, socklen_t);
	int (*accept)(int, struct sockaddr *, socklen_t *);
	int (*accept4)(int, struct sockaddr *, socklen_t *, int);
	int (*close)(int);
	int (*close_range)(unsigned int, unsigned int, int);
	void (*closefrom)(int);
	int (*dup)(int);
	int (*dup2)(int, int);
	int (*dup3)(int, int, int);
	int (*fcntl)(int, int, ...);
	int (*nanosleep)(const struct timespec *, struct timespec *);
	int (*clock_nanosleep)(clockid_t, int, const struct timespec *, struct timespec *);
	unsigned int (*sleep)(unsigned int);
	int (*usleep)(unsigned int);
	int (*poll)(struct pollfd *, nfds_t, int);
	pid_t (*fork)(void);
};

extern struct bs_real bs_real;

/* Resolve every entry of bs_real (idempotent, thread-safe). */
void bs_real_resolve(void);

#define BS_REAL(name) \
	(__builtin_expect(bs_real.name != NULL, 1) ? bs_real.name \
						   : (bs_real_resolve(), bs_real.name))

#endif
