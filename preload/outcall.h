/* The state of one managed outbound connect, shared by the call
 * (preload/outbound.c: rule, cap slot, retry loop) and its attempts
 * (preload/outattempt.c). Internal to those two files. */
#ifndef BS_OUTCALL_H
#define BS_OUTCALL_H

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "policy/dest.h"
#include "preload/real.h"
#include "preload/resolved.h"
#include "preload/runtime.h"
#include "preload/watchdog.h"

struct outbound {
	struct bs_runtime *rt;
	const struct bs_rule *rule;
	int fd;
	const struct sockaddr *sa;    /* this attempt's: failover may change it */
	socklen_t len;
	struct bs_resolved *resolved; /* the name sa came from, its other addresses */
	signed char nonblocking;      /* the program's O_NONBLOCK; -1: not asked yet */
	signed char stream;           /* SOCK_STREAM?; -1: not asked yet */
	bool passed;                  /* nonblocking = pass: left to the program */
	bool async;                   /* nonblocking = async: handed to preload/async.c */
	bool timeout_replaced;        /* SO_SNDTIMEO holds an attempt's bound */
	bool timeout_known;           /* program_timeout has been read */
	uint32_t slot;                /* the cap slot until settled; BS_CAP_NONE */
	struct timeval program_timeout; /* the program's SO_SNDTIMEO */
	int premade;                  /* the first attempt's result, when made before
				       * this state existed (bs_outbound_connect); -1: not */
	bs_ns deadline;               /* bound on the whole call (see call_deadline) */
	bool replay;                  /* the loop's next attempt is the first one */
	int first_err;
	bs_ns clock;                  /* the latest clock reading (see now_io) */
	char dest[BS_DEST_MAX];       /* "" until needed */
};

static inline bool is_stream(struct outbound *o)
{
	if (o->stream < 0) {
		int type = 0;
		socklen_t len = sizeof type;
		o->stream = BS_REAL(getsockopt)(o->fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 &&
			    type == SOCK_STREAM;
	}
	return o->stream;
}

static inline bool nonblocking(struct outbound *o)
{
	if (o->nonblocking < 0) {
		int flags = BS_REAL(fcntl)(o->fd, F_GETFL);
		o->nonblocking = flags >= 0 && (flags & O_NONBLOCK) != 0;
	}
	return o->nonblocking;
}

/* The program's SO_SNDTIMEO, read once where it is replaced; false: not
 * a socket. */
static inline bool program_timeout(struct outbound *o)
{
	if (!o->timeout_known) {
		socklen_t tl = sizeof o->program_timeout;
		if (BS_REAL(getsockopt)(o->fd, SOL_SOCKET, SO_SNDTIMEO, &o->program_timeout, &tl) != 0)
			return false;
		o->timeout_known = true;
	}
	return true;
}

static inline const char *dest_of(struct outbound *o)
{
	if (o->dest[0] == '\0')
		bs_dest_format(o->dest, sizeof o->dest, o->sa, o->len);
	return o->dest;
}

static inline bs_ns min_ns(bs_ns a, bs_ns b)
{
	return a < b ? a : b;
}

static inline bs_ns timeval_ns(struct timeval tv)
{
	return (bs_ns)tv.tv_sec * BS_SEC + (bs_ns)tv.tv_usec * 1000;
}

/* A watched attempt the watchdog aborted (see outattempt.c). */
__attribute__((noinline, cold)) int bs_attempt_aborted(int fd, int err, const struct timeval *own);

/* A watched connect on fd returned err (0 or the errno): its outcome. */
static inline __attribute__((always_inline)) int
watched_outcome(int fd, int err, struct bs_watch *w)
{
	struct timeval own;
	if (__builtin_expect(!bs_watch_end(w, &own), 1))
		return err;
	return bs_attempt_aborted(fd, err, &own);
}

/* A thread cancelled in a watched connect (see outattempt.c). */
void bs_attempt_cancelled(void *w);

/* One watched connect attempt: 0 or the errno, as watched_outcome says.
 * connect is a cancellation point: a thread cancelled in it disarms its
 * slot on the way out (-fexceptions makes this a cleanup attribute that
 * costs nothing unless the unwinder runs it). */
static inline __attribute__((always_inline)) int
watched_connect(struct bs_watch *w, int fd, const struct sockaddr *sa, socklen_t len)
{
	int err;
	pthread_cleanup_push(bs_attempt_cancelled, w);
	err = BS_REAL(connect)(fd, sa, len) == 0 ? 0 : errno;
	pthread_cleanup_pop(0);
	return watched_outcome(fd, err, w);
}

/* The first attempt, made before the program's O_NONBLOCK is known (see
 * the top of outbound.c); may hand the connect to preload/async.c. */
int bs_attempt_first(struct outbound *o, bs_ns bound, bs_ns start);
/* The retry loop's attempt (engine/retry.h's bs_retry_io.attempt): the
 * first one replayed, then blocking or `sync` attempts within bound. */
int bs_attempt_io(void *ctx, bs_ns bound);

#endif
