/* Pending asynchronous connects: their steps (see async.h). The table
 * they live in is asynctab.c.
 *
 * Memory: a pool of BS_ASYNC_MAX entries and an index by descriptor
 * number, both mapped on the first asynchronous connect (MAP_NORESERVE:
 * untouched pages cost nothing); nothing is allocated afterwards. A
 * connect that finds the pool full is left to the program (pass).
 *
 * Concurrency: each entry has its own spin lock, held only across a few
 * nonblocking system calls (a probe, SO_ERROR, connect); the index and
 * `view` are atomics, so a wait reads them without the lock. Every step
 * re-checks under the lock that the entry still belongs to the
 * descriptor, and a retry is issued only after checking that the number
 * still names the same socket (device and inode): a close backstop saw
 * removed the entry first (under the lock), and one it could not see
 * (fclose, a raw system call) changed the inode.
 *
 * Fork: the child keeps its copy of every entry and advances it in its
 * own waits (a daemon that forks after connecting goes on connecting);
 * locks held by other threads of the parent are reset. Two processes
 * waiting on the same connecting socket would each drive it: programs do
 * not do that. */
#include "preload/async.h"
#include "preload/asynctab.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "engine/asyncconn.h"
#include "engine/connect_retry.h"
#include "policy/dest.h"
#include "preload/epreg.h"
#include "preload/outcap.h"
#include "preload/real.h"

/* How often a connect queued for a cap slot asks whether one came: the
 * slot is handed over by another connection's close, which cannot wake
 * the program's wait. */
#define CAP_POLL (10 * BS_MS)

/* ---- the socket ------------------------------------------------------- */

/* The system calls made under an entry's lock are raw ones: libc's
 * connect and ppoll are cancellation points, and a thread cancelled there
 * would leave the lock held for ever. */
static int raw_connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	return (int)syscall(SYS_connect, fd, sa, len);
}

static const struct sockaddr *addr_of(const struct entry *e)
{
	return (const struct sockaddr *)&e->addr;
}

static bool identify(int fd, uint64_t *dev, uint64_t *ino)
{
	struct stat st;
	if (syscall(SYS_newfstatat, fd, "", &st, AT_EMPTY_PATH) != 0)
		return false;
	*dev = st.st_dev;
	*ino = st.st_ino;
	return true;
}

/* Whether fd still names the entry's socket. */
static bool still_ours(const struct entry *e, int fd)
{
	uint64_t dev, ino;
	return identify(fd, &dev, &ino) && dev == e->dev && ino == e->ino;
}

/* fd was closed behind backstop's back (fclose, a raw system call) and
 * the number may name another descriptor now: drop the entry and give
 * the number's epoll registrations back their program's events, since a
 * registration of the new descriptor made while the number was parked
 * got the parking mask and would never fire. */
static void disown(struct entry *e, int fd)
{
	bs_atab_retire(e);
	bs_epreg_park(fd, false);
}

/* Leave the socket unconnected (TCP: RST, back to CLOSED) so that it can
 * connect again. A unix socket never stays half-connected. Only while the
 * number still names the entry's socket: one closed behind backstop's back
 * (a raw close) and reused, by a listening socket say, must not be touched,
 * since connect(AF_UNSPEC) would stop it listening. */
static void dissolve(const struct entry *e, int fd)
{
	if (e->addr.ss_family == AF_UNIX || !still_ours(e, fd))
		return;
	struct sockaddr unspec = { .sa_family = AF_UNSPEC };
	raw_connect(fd, &unspec, sizeof unspec);
}

/* One attempt, never blocking. The program may have made the socket
 * blocking since its connect (io.c then waits for the outcome): a
 * blocking connect here would hold whichever thread steps the entry, and
 * the entry's lock, for as long as the kernel likes (a full unix backlog:
 * for ever), unbounded by attempt_timeout, and a signal would end it with
 * EINTR. So O_NONBLOCK is set around it; a thread reading or writing the
 * socket meanwhile goes through io.c, which waits for the lock. */
static int attempt(const struct entry *e, int fd)
{
	int flags = (int)syscall(SYS_fcntl, fd, F_GETFL);
	bool blocking = flags >= 0 && !(flags & O_NONBLOCK);
	if (blocking)
		syscall(SYS_fcntl, fd, F_SETFL, flags | O_NONBLOCK);
	int err = raw_connect(fd, addr_of(e), e->len) == 0 ? 0 : errno;
	if (blocking)
		syscall(SYS_fcntl, fd, F_SETFL, flags);
	return err;
}

/* What a zero-timeout poll says of fd now (0: nothing yet). */
static unsigned probe(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	struct timespec zero = { 0, 0 };
	return syscall(SYS_ppoll, &p, 1, &zero, NULL, _NSIG / 8) == 1 ? (unsigned)p.revents : 0;
}

static int so_error(int fd)
{
	int err = 0;
	socklen_t len = sizeof err;
	if (BS_REAL(getsockopt)(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
		return errno;
	return err;
}

/* ---- steps (lock held, errno saved by the callers) -------------------- */

/* The log lines name the destination: formatted before a step that may
 * write one, never on a first-try success. */
static void prepare_step(struct entry *e)
{
	if (e->dest[0] == '\0')
		bs_dest_format(e->dest, sizeof e->dest, addr_of(e), e->len);
	e->rcall.rng = bs_thread_rng(); /* the stepping thread's own */
}

static void settle(struct entry *e, int fd, enum bs_aconn_state st)
{
	atomic_store(&e->due, st == BS_ACONN_FAILED ? BS_WAIT_FOREVER : e->conn.due);
	switch (st) {
	case BS_ACONN_CONNECTED:
		bs_atab_retire(e);
		bs_epreg_park(fd, false); /* connected at once (a unix socket) */
		break;
	case BS_ACONN_BACKOFF:
		dissolve(e, fd);
		bs_atab_set_view(e, BS_ASYNC_BACKOFF);
		bs_epreg_park(fd, true);
		break;
	case BS_ACONN_FAILED:
		bs_atab_set_view(e, BS_ASYNC_FAILED);
		bs_epreg_park(fd, false); /* the program must hear of it */
		break;
	case BS_ACONN_IN_FLIGHT:
		bs_atab_set_view(e, BS_ASYNC_IN_FLIGHT);
		bs_epreg_park(fd, false);
		break;
	}
}

/* The attempt in flight ended with err. */
static void attempt_ended(struct entry *e, int fd, int err, bs_ns now)
{
	/* A failure may be another descriptor's (a connected one would have
	 * ended the entry just the same). */
	if (err != 0 && !still_ours(e, fd)) {
		disown(e, fd);
		return;
	}
	if (err != 0 || e->conn.retry.attempt > 1)
		prepare_step(e);
	settle(e, fd, bs_aconn_ended(&e->conn, err, now));
}

/* The backoff pause is over: the next attempt, on the same socket if the
 * number still names it. */
static void resume(struct entry *e, int fd, bs_ns now)
{
	if (!still_ours(e, fd)) { /* not ours to connect */
		disown(e, fd);
		return;
	}
	prepare_step(e);
	enum bs_aconn_state st = bs_aconn_resume(&e->conn, now);
	if (st != BS_ACONN_IN_FLIGHT) {
		settle(e, fd, st); /* failed, or held by an open circuit */
		return;
	}
	int err = attempt(e, fd);
	if (err == EINPROGRESS)
		settle(e, fd, BS_ACONN_IN_FLIGHT);
	else
		attempt_ended(e, fd, err, now);
}

/* The first attempt of a connect that waited for its cap slot. */
static void first_attempt(struct entry *e, int fd, bs_ns now)
{
	if (!still_ours(e, fd)) {
		disown(e, fd);
		return;
	}
	bs_aconn_start(&e->conn, &e->rcall, now);
	int err = attempt(e, fd);
	if (err == EINPROGRESS)
		settle(e, fd, BS_ACONN_IN_FLIGHT);
	else
		attempt_ended(e, fd, err, now);
}

/* Queued for a cap slot: ask whether it came. */
static void cap_step(struct entry *e, int fd, bs_ns now)
{
	uint32_t slot;
	int err = bs_outcap_poll(e->rt, e->ccall.rule, addr_of(e), e->len, &e->ticket,
				 e->queued_at, now, &slot);
	if (err == EINPROGRESS) {
		e->conn.due = now + CAP_POLL;
		atomic_store(&e->due, e->conn.due);
		return;
	}
	e->capwait = false;
	if (err != 0) {
		/* cap.timeout: the program's connect fails with ETIMEDOUT, as a
		 * blocking one would. */
		e->conn.state = BS_ACONN_FAILED;
		e->conn.err = ETIMEDOUT;
		settle(e, fd, BS_ACONN_FAILED);
		return;
	}
	bs_outcap_commit(fd, slot); /* the socket holds it from now on */
	e->rcall.waited = true;     /* connect.ok even on a first-try success */
	first_attempt(e, fd, now);
}

/* What an event on an attempt in flight means: 0 nothing yet, 1 it ended
 * (*err: 0 connected, or the failure). An error or hang-up is checked
 * afresh, because the event may belong to an attempt another thread has
 * already handled (the next one is then in flight). */
static int outcome(int fd, unsigned revents, int *err)
{
	if (revents == 0)
		return 0;
	if (revents & (POLLERR | POLLHUP)) {
		revents = probe(fd);
		if (revents == 0)
			return 0;
		*err = (revents & (POLLERR | POLLHUP)) ? so_error(fd) : 0;
		return 1;
	}
	*err = 0; /* writable or readable without error: connected */
	return 1;
}

/* Advance e as far as `now` and what is known allow. revents: what the
 * kernel said of an attempt in flight (0: nothing), with `ask` meaning
 * the program wants to know now (probe even before the due time). */
static void advance(struct entry *e, int fd, unsigned revents, bool ask, bs_ns now)
{
	if (e->capwait) {
		if (now < e->conn.due && !ask)
			return;
		cap_step(e, fd, now);
		if (atomic_load(&e->view) != BS_ASYNC_IN_FLIGHT)
			return;
	}
	for (int guard = 0; guard < 4; guard++) {
		switch (e->conn.state) {
		case BS_ACONN_IN_FLIGHT: {
			if (revents == 0 && (ask || now >= e->conn.due))
				revents = probe(fd);
			int err;
			if (outcome(fd, revents, &err)) {
				attempt_ended(e, fd, err, now);
			} else if (now >= e->conn.due) {
				dissolve(e, fd);
				attempt_ended(e, fd, ETIMEDOUT, now);
			} else {
				return;
			}
			revents = 0;
			if (atomic_load(&e->view) != BS_ASYNC_BACKOFF)
				return;
			break;
		}
		case BS_ACONN_BACKOFF:
			if (now < e->conn.due)
				return;
			resume(e, fd, now);
			if (atomic_load(&e->view) != BS_ASYNC_IN_FLIGHT)
				return;
			break;
		default:
			return;
		}
	}
}

/* ---- the interface ---------------------------------------------------- */

/* A claimed (locked) entry for fd, filled in, not yet published; NULL
 * when backstop cannot follow this connect (the pool is full, ...). */
static struct entry *open_entry(struct bs_runtime *rt, const struct bs_rule *rule, int fd,
				const struct sockaddr *sa, socklen_t len, bs_ns start)
{
	uint64_t dev, ino;
	if (len > sizeof(struct sockaddr_storage) || !bs_atab_ready() || (uint32_t)fd >= bs_atab_fds() ||
	    !identify(fd, &dev, &ino))
		return NULL;
	struct entry *e = bs_atab_claim();
	if (e == NULL)
		return NULL;
	e->dev = dev;
	e->ino = ino;
	e->rt = rt;
	e->capwait = false;
	memcpy(&e->addr, sa, len);
	e->len = len;
	e->dest[0] = '\0';
	const char *share;
	struct bs_guard_table *table = bs_guard_table_of(rt, rule, &share);
	if (table != NULL && bs_rule_guarded(rule)) /* the breaker is the destination's */
		bs_dest_format(e->dest, sizeof e->dest, sa, len);
	e->ccall = (struct bs_connect_call){
		.rule = rule, .rng = bs_thread_rng(), .log = &rt->log, .fd = fd,
		.dest = e->dest, .mode = BS_CONNECT_ASYNC, .start = start,
		.guard = bs_guard_for(&e->guard, &e->guard_names, table, rule, e->dest, share),
	};
	bs_connect_retry_call(&e->rcall, &e->ccall);
	return e;
}

int bs_async_begin(struct bs_runtime *rt, const struct bs_rule *rule, int fd,
		   const struct sockaddr *sa, socklen_t len, bs_ns start, int err)
{
	struct entry *e = open_entry(rt, rule, fd, sa, len, start);
	if (e == NULL)
		return err;
	bs_ns now = bs_now();
	bs_aconn_start(&e->conn, &e->rcall, now);
	if (err != EINPROGRESS) {
		prepare_step(e);
		if (bs_aconn_ended(&e->conn, err, now) != BS_ACONN_BACKOFF) {
			int final = e->conn.err;
			bs_atab_unlock(e);
			return final;
		}
		dissolve(e, fd);
	}
	bs_atab_publish(e, fd, err == EINPROGRESS ? BS_ASYNC_IN_FLIGHT : BS_ASYNC_BACKOFF);
	if (err != EINPROGRESS)
		bs_epreg_park(fd, true);
	bs_atab_unlock(e);
	return EINPROGRESS;
}

int bs_async_cap(struct bs_runtime *rt, const struct bs_rule *rule, int fd,
		 const struct sockaddr *sa, socklen_t len, bs_ns start, bs_ns deadline_at,
		 uint32_t *slot, bool *waited)
{
	struct entry *e = open_entry(rt, rule, fd, sa, len, start);
	if (e == NULL) /* not followed: as under pass, never wait */
		return bs_outcap_acquire(rt, rule, sa, len, bs_outcap_no_wait, NULL, deadline_at,
					 slot, waited);
	int err = bs_outcap_queue(rt, rule, sa, len, deadline_at, &e->ticket, slot, waited);
	if (err != EINPROGRESS) {
		bs_atab_unlock(e);
		return err;
	}
	e->capwait = true;
	e->queued_at = bs_now();
	e->conn.state = BS_ACONN_BACKOFF; /* no attempt yet: never ready */
	e->conn.due = e->queued_at + CAP_POLL;
	bs_atab_publish(e, fd, BS_ASYNC_BACKOFF);
	bs_epreg_park(fd, true);
	bs_atab_unlock(e);
	return EINPROGRESS;
}

enum bs_async_view bs_async_tick(int fd, bs_ns now, bs_ns *due)
{
	struct entry *e = bs_atab_of(fd);
	if (e == NULL)
		return BS_ASYNC_NONE;
	if (now >= atomic_load(&e->due)) {
		int saved = errno;
		if ((e = bs_atab_lock_fd(fd)) != NULL) {
			advance(e, fd, 0, false, now);
			bs_atab_unlock(e);
		}
		errno = saved;
		if ((e = bs_atab_of(fd)) == NULL)
			return BS_ASYNC_NONE;
	}
	enum bs_async_view v = atomic_load(&e->view);
	*due = v == BS_ASYNC_FAILED ? BS_WAIT_FOREVER : atomic_load(&e->due);
	return atomic_load(&e->fd) == fd ? v : BS_ASYNC_NONE;
}

enum bs_async_view bs_async_event(int fd, unsigned revents, bs_ns now)
{
	struct entry *e = bs_atab_lock_fd(fd);
	if (e == NULL)
		return BS_ASYNC_NONE;
	int saved = errno;
	if (e->conn.state == BS_ACONN_IN_FLIGHT)
		advance(e, fd, revents, false, now);
	enum bs_async_view v = atomic_load(&e->view);
	bs_atab_unlock(e);
	errno = saved;
	return v;
}

enum bs_async_view bs_async_check(int fd, int *err)
{
	struct entry *e = bs_atab_lock_fd(fd);
	if (e == NULL)
		return BS_ASYNC_NONE;
	int saved = errno;
	/* The program asks about this socket: an entry of a socket closed
	 * behind backstop's back must not answer for the one now holding the
	 * number (a new connect would get the old one's error, or EALREADY). */
	if (!still_ours(e, fd)) {
		disown(e, fd);
		bs_atab_unlock(e);
		errno = saved;
		return BS_ASYNC_NONE;
	}
	advance(e, fd, 0, true, bs_now());
	enum bs_async_view v = atomic_load(&e->view);
	*err = e->conn.err;
	bs_atab_unlock(e);
	errno = saved;
	return v;
}

void bs_async_consume(int fd, bool dissolve_it)
{
	struct entry *e = bs_atab_lock_fd(fd);
	if (e == NULL)
		return;
	int saved = errno;
	if (dissolve_it)
		dissolve(e, fd);
	bs_atab_retire(e);
	bs_atab_unlock(e);
	errno = saved;
}

