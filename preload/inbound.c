/* The managed accept path. See preload/inbound.h and docs/inbound.md.
 *
 * With no cap and no io_timeout, a successful accept costs nothing beyond
 * the real accept4 (and one relaxed atomic load); everything else happens
 * on error paths or when the policy asks for it. */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>

#include "engine/backoff.h"
#include "policy/dest.h"
#include "preload/fdtrack.h"
#include "preload/inbound.h"
#include "preload/real.h"
#include "preload/runtime.h"

/* Descriptor exhaustion is a property of the process (EMFILE) or the
 * system (ENFILE, ENOBUFS, ENOMEM), not of one listener, so all listeners
 * of the process share one backoff streak. */
static atomic_uint exhaustion_streak;
static atomic_uint_fast64_t exhaustion_prev; /* decorrelated jitter's history */

static bool is_exhaustion(int err)
{
	return err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM;
}

/* Errors Linux reports from accept for a connection that failed while
 * queued (accept(2), "Error handling"): the next one may well succeed. */
static bool is_transient(int err)
{
	switch (err) {
	case ECONNABORTED: case EPROTO: case ENETDOWN: case ENOPROTOOPT:
	case EHOSTDOWN: case ENONET: case EHOSTUNREACH: case EOPNOTSUPP:
	case ENETUNREACH:
		return true;
	default:
		return false;
	}
}

/* The listener's O_NONBLOCK, read with one fcntl only on the paths that
 * need it; *cache starts at -1. */
static bool listener_nonblocking(int fd, int *cache)
{
	if (*cache < 0) {
		int fl = BS_REAL(fcntl)(fd, F_GETFL);
		*cache = fl >= 0 && (fl & O_NONBLOCK);
	}
	return *cache;
}

static void log_delay(struct bs_runtime *rt, const char *event, int err,
		      bs_ns delay)
{
	struct bs_logline line;
	bs_line_begin(&line, &rt->log, event);
	bs_line_errno(&line, "errno", err);
	bs_line_ms(&line, "delay_ms", delay);
	bs_line_emit(&line, &rt->log);
}

/* Sleep a jittered, growing delay after descriptor exhaustion. Returns
 * false when a signal cut the sleep short (the caller then returns the
 * error, as the real accept would have). */
static bool exhaustion_backoff(struct bs_runtime *rt,
			       const struct bs_accept_policy *p, int err)
{
	unsigned streak = atomic_fetch_add(&exhaustion_streak, 1) + 1;
	bs_ns prev = atomic_load(&exhaustion_prev);
	bs_ns delay = bs_backoff_next(&p->backoff, streak, &prev, bs_thread_rng());
	atomic_store(&exhaustion_prev, prev);
	log_delay(rt, "accept.backoff", err, delay);
	struct timespec ts = bs_timespec(delay);
	return BS_REAL(nanosleep)(&ts, NULL) == 0;
}

static void reset_exhaustion(void)
{
	if (atomic_load_explicit(&exhaustion_streak, memory_order_relaxed)) {
		atomic_store(&exhaustion_streak, 0);
		atomic_store(&exhaustion_prev, 0);
	}
}

/* Close a connection over its client's cap at once. For TCP, SO_LINGER
 * {1, 0} makes the close send an RST: the client learns right away
 * (ECONNRESET) and no half-closed connection lingers in TIME_WAIT. */
static void shed(struct bs_runtime *rt, int nfd, const struct sockaddr *peer,
		 socklen_t len, uint32_t in_use, uint32_t max)
{
	if (peer->sa_family == AF_INET || peer->sa_family == AF_INET6) {
		struct linger lg = {.l_onoff = 1, .l_linger = 0};
		setsockopt(nfd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
	}
	BS_REAL(close)(nfd);
	char client[BS_DEST_MAX];
	bs_dest_format(client, sizeof client, peer, len);
	struct bs_logline line;
	bs_line_begin(&line, &rt->log, "accept.shed");
	bs_line_int(&line, "fd", nfd);
	bs_line_str(&line, "client", client);
	bs_line_int(&line, "in_use", in_use);
	bs_line_int(&line, "max_per_client", max);
	bs_line_emit(&line, &rt->log);
}

/* The slot this thread's latest admitted client took: where the next
 * lock-free try looks first (any stale value is only a missed look). */
static __thread uint32_t client_hint __attribute__((tls_model("initial-exec"))) = BS_CAP_NONE;

/* Count nfd against its client's cap. Returns false when the client is
 * over the cap and the connection was shed. */
static bool admit(struct bs_runtime *rt, const struct bs_accept_policy *p,
		  int nfd, const struct sockaddr *peer, socklen_t len)
{
	sa_family_t fam = peer->sa_family;
	if ((fam != AF_INET && fam != AF_INET6 && fam != AF_UNIX) ||
	    (p->n_exempt != 0 && bs_patterns_contain(p->exempt, p->n_exempt, peer, len)))
		return true;
	struct bs_cap_request req = {
		.limit = p->max_per_client,
		.wait = false,
		.reclaim = bs_fdtrack_reclaim,
	};
	bs_cap_key_inbound(&req.key, p->client_scope, peer, len);
	/* A client seen before, below its cap: lock-free, at the slot this
	 * thread's latest client took (verified there). */
	uint32_t slot = bs_cap_try(rt->caps, &req.key, req.limit, client_hint);
	if (__builtin_expect(slot != BS_CAP_NONE, 1)) {
		client_hint = slot;
		bs_fdtrack_hold(nfd, rt->caps, slot);
		return true;
	}
	struct bs_cap_outcome out;
	switch (bs_cap_acquire(rt->caps, &req, &out)) {
	case BS_CAP_ACQUIRED:
	case BS_CAP_WAITED:
		bs_fdtrack_hold(nfd, rt->caps, out.slot);
		return true;
	case BS_CAP_REJECT:
	case BS_CAP_TIMEOUT:
	case BS_CAP_QUEUED: /* never: no ticket */
		shed(rt, nfd, peer, len, out.in_use, p->max_per_client);
		return false;
	case BS_CAP_UNTRACKED:
		break; /* the table is full of other clients: fail open */
	}
	return true;
}

/* The real accept4. With a cap, backstop needs the peer even when the
 * program passes no buffer for it. The program's addr and addrlen are
 * never read or written here, only by the kernel, which answers EFAULT
 * for a bad pointer as it does without backstop (where reading *addrlen
 * first crashed); so with a buffer of the program's, the peer is asked
 * again into our own (getpeername: only when a cap applies). *peerlen is
 * 0 when the peer is not known (a connection already reset). */
static int accept_peer(int fd, struct sockaddr *addr, socklen_t *addrlen, int flags,
		       bool capped, struct sockaddr_storage *peer, socklen_t *peerlen)
{
	*peerlen = sizeof *peer;
	if (!capped || addr == NULL) {
		struct sockaddr *into = capped ? (struct sockaddr *)peer : addr;
		return BS_REAL(accept4)(fd, into, capped ? peerlen : addrlen, flags);
	}
	int nfd = BS_REAL(accept4)(fd, addr, addrlen, flags);
	if (nfd >= 0) {
		int saved = errno;
		if (getpeername(nfd, (struct sockaddr *)peer, peerlen) != 0)
			*peerlen = 0;
		errno = saved;
	}
	return nfd;
}

int bs_inbound_accept(int fd, struct sockaddr *addr, socklen_t *addrlen,
		      int flags)
{
	struct bs_runtime *rt = bs_runtime();
	if (rt == NULL)
		return BS_REAL(accept4)(fd, addr, addrlen, flags);
	const struct bs_accept_policy *p = &rt->policy->accept;
	/* With a cap, backstop needs the peer even when the program passes
	 * NULL: accept into our own buffer, copy out on success. */
	bool capped = p->max_per_client > 0 && rt->caps != NULL;
	int nonblocking = -1;
	int saved = errno; /* a successful accept leaves errno alone */
	for (;;) {
		struct sockaddr_storage peer;
		socklen_t peerlen;
		int nfd = accept_peer(fd, addr, addrlen, flags, capped, &peer, &peerlen);
		if (nfd >= 0) {
			reset_exhaustion();
			/* Shed: a blocking listener waits for the next client;
			 * a nonblocking one tries the next pending connection,
			 * EAGAIN if none is left. */
			if (capped && peerlen >= sizeof(sa_family_t) &&
			    !admit(rt, p, nfd, (struct sockaddr *)&peer, peerlen))
				continue;
			if (p->io_timeout && !(flags & SOCK_NONBLOCK))
				bs_apply_io_timeout(nfd, p->io_timeout);
			errno = saved;
			return nfd;
		}
		int err = errno;
		if (is_exhaustion(err) && p->fd_backoff) {
			if (!exhaustion_backoff(rt, p, err) ||
			    listener_nonblocking(fd, &nonblocking)) {
				errno = err;
				return -1;
			}
			continue;
		}
		if (is_transient(err) && p->retry_transient &&
		    !listener_nonblocking(fd, &nonblocking)) {
			log_delay(rt, "accept.retry", err, 0);
			continue;
		}
		errno = err;
		return -1;
	}
}
