/* Which epoll sets each descriptor is registered in, with the events and
 * data the program gave (followed through the epoll_ctl wrapper), so that
 * an epoll wait can tell which of its events belong to a pending
 * asynchronous connect (data.ptr or u64 mapped back to the fd), and so
 * that backstop can take such a descriptor out of its sets while a retry
 * waits for its backoff ("parking") and put it back afterwards.
 *
 * At most BS_EPREG_MAX sets per descriptor are followed; a registration
 * beyond that is not seen (its events reach the program unfiltered). */
#ifndef BS_EPREG_H
#define BS_EPREG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/epoll.h>

#include "preload/fdtrack.h"

#define BS_EPREG_MAX 4

/* Whether registrations are followed at all: off when no rule of the
 * policy is async. */
bool bs_epreg_enabled(void);

/* The program's epoll_ctl, with the bookkeeping: a descriptor parked
 * (between attempts) is registered with the parking mask instead of the
 * program's events, which are kept for when it is put back. */
int bs_epreg_ctl(int (*real)(int, int, int, struct epoll_event *), int epfd,
		 int op, int fd, struct epoll_event *ev);

/* The program closed fd: forget its registrations. Inline: every close
 * pays its first test. */
struct bs_epreg_fd {
	_Atomic int lock;
	_Atomic unsigned n;
	_Atomic bool parked;
	struct {
		int epfd;
		uint32_t events;
		epoll_data_t data;
	} r[BS_EPREG_MAX];
};
extern struct bs_epreg_fd *_Atomic bs_epreg_table;
extern _Atomic uint32_t bs_epreg_fds;
void bs_epreg_forget_slow(struct bs_epreg_fd *f);
/* Whether fd has registrations to forget, or is parked (the test alone).
 * A parked number with no registration (a pending connect not yet, or no
 * more, in any set) must be forgotten too: a new descriptor taking the
 * number would otherwise be registered with the parking mask and never
 * fire. */
static inline bool bs_epreg_registered(int fd)
{
	/* Kept in fd's flags byte (fdtrack.h) under the record's lock,
	 * whenever n or parked changes: close reads one table for all. */
	return __builtin_expect((bs_fdtrack_flags(fd) & BS_FDF_EPREG) != 0, 0);
}
static inline void bs_epreg_forget(int fd)
{
	if (bs_epreg_registered(fd))
		bs_epreg_forget_slow(&atomic_load(&bs_epreg_table)[fd]);
}

/* The same for every number in [lo, hi] (close_range, closefrom). */
void bs_epreg_forget_range(unsigned lo, unsigned hi);

/* Whether fd is registered in epfd, and with which data. */
bool bs_epreg_find(int fd, int epfd, uint64_t *data);

/* The sets fd is registered in (up to cap). */
unsigned bs_epreg_sets(int fd, int *epfds, unsigned cap);

/* Take fd out of its sets (park) or put it back with the program's own
 * events (which also re-arms an EPOLLONESHOT registration whose event
 * backstop hid). */
void bs_epreg_park(int fd, bool park);

/* An event of fd's registration in epfd was hidden: if that registration
 * is EPOLLONESHOT (now disarmed by the kernel), arm it again. */
void bs_epreg_rearm(int fd, int epfd);

#endif
