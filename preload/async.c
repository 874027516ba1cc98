/* The table of pending asynchronous connects (see async.h).
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

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "engine/asyncconn.h"
#include "engine/connect_retry.h"
#include "policy/dest.h"
#include "preload/epreg.h"
#include "preload/fdtrack.h"
#include "preload/outcap.h"
#include "preload/real.h"
#include "preload/spin.h"

#define BS_ASYNC_MAX 4096
/* How often a connect queued for a cap slot asks whether one came: the
 * slot is handed over by another connection's close, which cannot wake
 * the program's wait. */
#define CAP_POLL (10 * BS_MS)

struct entry {
	_Atomic int lock;
	_Atomic int view;  /* enum bs_async_view; BS_ASYNC_NONE: free */
	_Atomic int fd;
	_Atomic bs_ns due; /* mirror of conn.due for lock-free readers */
	uint64_t dev, ino;
	struct bs_runtime *rt;
	bool capwait;           /* queued for a cap slot; no attempt made yet */
	bs_ns queued_at;
	struct bs_cap_ticket ticket;
	struct bs_aconn conn;
	struct bs_connect_call ccall;
	struct bs_retry_call rcall;
	struct sockaddr_storage addr;
	socklen_t len;
	char dest[BS_DEST_MAX];
};

_Atomic unsigned bs_async_live;

static struct {
	struct entry *pool;
	_Atomic uint32_t *_Atomic index; /* fd -> entry number + 1; 0: none */
	uint32_t n_fds;
	_Atomic uint32_t high_water; /* entries [0, high_water) were ever used */
	_Atomic uint32_t cursor;     /* where the next search for a free entry starts */
} g;

/* ---- locking ---------------------------------------------------------- */

static void lock(struct entry *e)
{
	bs_spin_lock(&e->lock);
}

static void unlock(struct entry *e)
{
	bs_spin_unlock(&e->lock);
}

static void set_view(struct entry *e, enum bs_async_view v)
{
	atomic_store_explicit(&e->view, v, memory_order_release);
}

/* The entry of fd, or NULL. Without the lock: a caller that acts on it
 * locks it and checks `owns`. */
static struct entry *entry_of(int fd)
{
	_Atomic uint32_t *index = atomic_load_explicit(&g.index, memory_order_acquire);
	if (index == NULL || fd < 0 || (uint32_t)fd >= g.n_fds)
		return NULL;
	uint32_t id = atomic_load_explicit(&index[fd], memory_order_acquire);
	return id != 0 ? &g.pool[id - 1] : NULL;
}

static bool owns(struct entry *e, int fd)
{
	return atomic_load(&e->view) != BS_ASYNC_NONE && atomic_load(&e->fd) == fd;
}

/* Lock fd's entry, or return NULL when it has none. */
static struct entry *lock_fd(int fd)
{
	struct entry *e = entry_of(fd);
	if (e == NULL)
		return NULL;
	lock(e);
	if (owns(e, fd))
		return e;
	unlock(e);
	return NULL;
}

/* ---- set-up ----------------------------------------------------------- */

static void *map(size_t bytes)
{
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

static void in_child(void)
{
	uint32_t hw = atomic_load(&g.high_water);
	for (uint32_t i = 0; i < hw; i++)
		atomic_store(&g.pool[i].lock, 0);
}

static void init_once(void)
{
	bs_fdtrack_init();
	uint32_t n = atomic_load(&bs_fdtab)->n;
	if (n == 0)
		return;
	struct entry *pool = map(BS_ASYNC_MAX * sizeof *pool);
	_Atomic uint32_t *index = map((size_t)n * sizeof *index);
	if (pool == NULL || index == NULL)
		return;
	g.pool = pool;
	g.n_fds = n;
	pthread_atfork(NULL, NULL, in_child);
	atomic_store_explicit(&g.index, index, memory_order_release);
}

/* Whether the table exists; the acquire orders the reads of g after it. */
static bool published(void)
{
	return atomic_load_explicit(&g.index, memory_order_acquire) != NULL;
}

static bool ready(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, init_once);
	return published();
}

/* A free entry, claimed (locked, view still NONE), or NULL. */
static struct entry *claim(void)
{
	uint32_t start = atomic_fetch_add(&g.cursor, 1);
	for (uint32_t k = 0; k < BS_ASYNC_MAX; k++) {
		struct entry *e = &g.pool[(start + k) % BS_ASYNC_MAX];
		if (atomic_load(&e->view) != BS_ASYNC_NONE || atomic_load(&e->lock))
			continue;
		lock(e);
		if (atomic_load(&e->view) == BS_ASYNC_NONE)
			return e;
		unlock(e);
	}
	return NULL;
}

/* Publish a claimed entry for fd (lock held, fields filled). */
static void publish(struct entry *e, int fd, enum bs_async_view v)
{
	uint32_t id = (uint32_t)(e - g.pool);
	uint32_t hw = atomic_load(&g.high_water);
	while (hw < id + 1 && !atomic_compare_exchange_weak(&g.high_water, &hw, id + 1))
		;
	atomic_store(&e->fd, fd);
	atomic_store(&e->due, e->conn.due);
	set_view(e, v);
	atomic_fetch_add(&bs_async_live, 1);
	atomic_store_explicit(&g.index[fd], id + 1, memory_order_release);
}

/* Remove e (lock held) from the table. */
static void retire(struct entry *e)
{
	if (e->capwait) {
		bs_outcap_cancel(e->rt, &e->ticket);
		e->capwait = false;
	}
	int fd = atomic_load(&e->fd);
	uint32_t id = (uint32_t)(e - g.pool) + 1;
	atomic_compare_exchange_strong(&g.index[fd], &id, 0);
	set_view(e, BS_ASYNC_NONE);
	atomic_fetch_sub(&bs_async_live, 1);
}

/* ---- the socket ------------------------------------------------------- */

static const struct sockaddr *addr_of(const struct entry *e)
{
	return (const struct sockaddr *)&e->addr;
}

/* Leave the socket unconnected (TCP: RST, back to CLOSED) so that it can
 * connect again. A unix socket never stays half-connected. */
static void dissolve(const struct entry *e, int fd)
{
	if (e->addr.ss_family == AF_UNIX)
		return;
	struct sockaddr unspec = { .sa_family = AF_UNSPEC };
	BS_REAL(connect)(fd, &unspec, sizeof unspec);
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

/* What a zero-timeout poll says of fd now (0: nothing yet). */
static unsigned probe(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	struct timespec zero = { 0, 0 };
	return BS_REAL(ppoll)(&p, 1, &zero, NULL) == 1 ? (unsigned)p.revents : 0;
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
		retire(e);
		bs_epreg_park(fd, false); /* connected at once (a unix socket) */
		break;
	case BS_ACONN_BACKOFF:
		dissolve(e, fd);
		set_view(e, BS_ASYNC_BACKOFF);
		bs_epreg_park(fd, true);
		break;
	case BS_ACONN_FAILED:
		set_view(e, BS_ASYNC_FAILED);
		bs_epreg_park(fd, false); /* the program must hear of it */
		break;
	case BS_ACONN_IN_FLIGHT:
		set_view(e, BS_ASYNC_IN_FLIGHT);
		bs_epreg_park(fd, false);
		break;
	}
}

/* The attempt in flight ended with err. */
static void attempt_ended(struct entry *e, int fd, int err, bs_ns now)
{
	if (err != 0 || e->conn.retry.attempt > 1)
		prepare_step(e);
	settle(e, fd, bs_aconn_ended(&e->conn, err, now));
}

/* The backoff pause is over: the next attempt, on the same socket if the
 * number still names it. */
static void resume(struct entry *e, int fd, bs_ns now)
{
	uint64_t dev, ino;
	if (!identify(fd, &dev, &ino) || dev != e->dev || ino != e->ino) {
		retire(e); /* closed behind backstop's back: not ours to connect */
		return;
	}
	prepare_step(e);
	if (bs_aconn_resume(&e->conn, now) == BS_ACONN_FAILED) {
		settle(e, fd, BS_ACONN_FAILED);
		return;
	}
	int err = BS_REAL(connect)(fd, addr_of(e), e->len) == 0 ? 0 : errno;
	if (err == EINPROGRESS)
		settle(e, fd, BS_ACONN_IN_FLIGHT);
	else
		attempt_ended(e, fd, err, now);
}

/* The first attempt of a connect that waited for its cap slot. */
static void first_attempt(struct entry *e, int fd, bs_ns now)
{
	uint64_t dev, ino;
	if (!identify(fd, &dev, &ino) || dev != e->dev || ino != e->ino) {
		retire(e);
		return;
	}
	bs_aconn_start(&e->conn, &e->rcall, now);
	int err = BS_REAL(connect)(fd, addr_of(e), e->len) == 0 ? 0 : errno;
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
	if (len > sizeof(struct sockaddr_storage) || !ready() || (uint32_t)fd >= g.n_fds ||
	    !identify(fd, &dev, &ino))
		return NULL;
	struct entry *e = claim();
	if (e == NULL)
		return NULL;
	e->dev = dev;
	e->ino = ino;
	e->rt = rt;
	e->capwait = false;
	memcpy(&e->addr, sa, len);
	e->len = len;
	e->dest[0] = '\0';
	e->ccall = (struct bs_connect_call){
		.rule = rule, .rng = bs_thread_rng(), .log = &rt->log, .fd = fd,
		.dest = e->dest, .mode = BS_CONNECT_ASYNC, .start = start,
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
			unlock(e);
			return final;
		}
		dissolve(e, fd);
	}
	publish(e, fd, err == EINPROGRESS ? BS_ASYNC_IN_FLIGHT : BS_ASYNC_BACKOFF);
	if (err != EINPROGRESS)
		bs_epreg_park(fd, true);
	unlock(e);
	return EINPROGRESS;
}

int bs_async_cap(struct bs_runtime *rt, const struct bs_rule *rule, int fd,
		 const struct sockaddr *sa, socklen_t len, bs_ns start, bs_ns deadline_at,
		 uint32_t *slot, bool *waited)
{
	struct entry *e = open_entry(rt, rule, fd, sa, len, start);
	if (e == NULL) /* not followed: as under pass, never wait */
		return bs_outcap_acquire(rt, rule, sa, len, false, deadline_at, slot, waited);
	int err = bs_outcap_queue(rt, rule, sa, len, deadline_at, &e->ticket, slot, waited);
	if (err != EINPROGRESS) {
		unlock(e);
		return err;
	}
	e->capwait = true;
	e->queued_at = bs_now();
	e->conn.state = BS_ACONN_BACKOFF; /* no attempt yet: never ready */
	e->conn.due = e->queued_at + CAP_POLL;
	publish(e, fd, BS_ASYNC_BACKOFF);
	bs_epreg_park(fd, true);
	unlock(e);
	return EINPROGRESS;
}

bool bs_async_has(int fd)
{
	return entry_of(fd) != NULL;
}

enum bs_async_view bs_async_tick(int fd, bs_ns now, bs_ns *due)
{
	struct entry *e = entry_of(fd);
	if (e == NULL)
		return BS_ASYNC_NONE;
	if (now >= atomic_load(&e->due)) {
		int saved = errno;
		if ((e = lock_fd(fd)) != NULL) {
			advance(e, fd, 0, false, now);
			unlock(e);
		}
		errno = saved;
		if ((e = entry_of(fd)) == NULL)
			return BS_ASYNC_NONE;
	}
	enum bs_async_view v = atomic_load(&e->view);
	*due = v == BS_ASYNC_FAILED ? BS_WAIT_FOREVER : atomic_load(&e->due);
	return atomic_load(&e->fd) == fd ? v : BS_ASYNC_NONE;
}

enum bs_async_view bs_async_event(int fd, unsigned revents, bs_ns now)
{
	struct entry *e = lock_fd(fd);
	if (e == NULL)
		return BS_ASYNC_NONE;
	int saved = errno;
	if (e->conn.state == BS_ACONN_IN_FLIGHT)
		advance(e, fd, revents, false, now);
	enum bs_async_view v = atomic_load(&e->view);
	unlock(e);
	errno = saved;
	return v;
}

enum bs_async_view bs_async_check(int fd, int *err)
{
	struct entry *e = lock_fd(fd);
	if (e == NULL)
		return BS_ASYNC_NONE;
	int saved = errno;
	advance(e, fd, 0, true, bs_now());
	enum bs_async_view v = atomic_load(&e->view);
	*err = e->conn.err;
	unlock(e);
	errno = saved;
	return v;
}

void bs_async_consume(int fd, bool dissolve_it)
{
	struct entry *e = lock_fd(fd);
	if (e == NULL)
		return;
	int saved = errno;
	if (dissolve_it)
		dissolve(e, fd);
	retire(e);
	unlock(e);
	errno = saved;
}

void bs_async_forget_slow(int fd)
{
	struct entry *e = lock_fd(fd);
	if (e == NULL)
		return;
	retire(e);
	unlock(e);
}

void bs_async_forget_range(unsigned lo, unsigned hi)
{
	if (!bs_async_any() || !published())
		return;
	uint32_t hw = atomic_load(&g.high_water);
	for (uint32_t i = 0; i < hw; i++) {
		struct entry *e = &g.pool[i];
		int fd = atomic_load(&e->fd);
		if (atomic_load(&e->view) != BS_ASYNC_NONE && (unsigned)fd >= lo &&
		    (unsigned)fd <= hi)
			bs_async_forget_slow(fd);
	}
}

void bs_async_each(void (*fn)(int fd, void *ctx), void *ctx)
{
	if (!published())
		return;
	uint32_t hw = atomic_load(&g.high_water);
	for (uint32_t i = 0; i < hw; i++) {
		struct entry *e = &g.pool[i];
		int fd = atomic_load(&e->fd);
		if (atomic_load(&e->view) != BS_ASYNC_NONE)
			fn(fd, ctx);
	}
}
