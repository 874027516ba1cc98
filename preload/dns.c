/* The program's name lookups: getaddrinfo and the gethostbyname family.
 *
 * Every lookup is the real function, called again on a retry, so the
 * program's own resolver options (resolv.conf attempts and timeout,
 * nsswitch, RES_OPTIONS) bound each one as they would without backstop.
 * A failure whose code is in [dns] retry_on (EAI_AGAIN, a SERVFAIL or a
 * resolver that did not answer, by default) is retried with the shared
 * engine (engine/dns_retry.h), pausing like a retried connect (the
 * program's SA_RESTART choice decides whether a signal ends the pause;
 * an ended pause gives back the last lookup's failure). Failures outside
 * retry_on (NXDOMAIN is EAI_NONAME) return at once and log nothing.
 *
 * Each successful lookup of a name (not of a numeric address) is
 * remembered (engine/names.h): connects to its addresses then know the
 * name, for rules by name, for the `name` of log lines and for failover
 * to the name's next address.
 *
 * The gethostbyname family reports failures in h_errno; they are mapped
 * to the EAI_* codes the policy and the log use (TRY_AGAIN is
 * EAI_AGAIN). */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <string.h>

#include "engine/dns_retry.h"
#include "engine/names.h"
#include "preload/outbound.h"
#include "preload/real.h"
#include "preload/runtime.h"

/* One call of the program, as the retry loop drives it. */
struct lookup {
	int (*attempt)(struct lookup *l); /* the real call: 0 or an EAI_* code */
	bool replay;      /* the loop's first attempt is the one already made */
	int code;         /* the latest attempt's result */
	int rc;           /* the reentrant calls: the latest return value */
	int err;          /* errno right after it */
	bs_ns start;
	/* The arguments of whichever call this is. */
	const char *node, *service;
	const struct addrinfo *hints;
	struct addrinfo **res;
	int af;
	struct hostent *ret, **result, *static_result;
	char *buf;
	size_t buflen;
	int *h_errnop;
};

static int h_errno_code(int h)
{
	switch (h) {
	case TRY_AGAIN:
		return EAI_AGAIN;
	case HOST_NOT_FOUND:
		return EAI_NONAME;
	case NO_DATA:
		return EAI_NODATA;
	case NETDB_INTERNAL:
		return EAI_SYSTEM;
	default:
		return EAI_FAIL;
	}
}

/* A numeric address names nothing worth remembering. */
static bool is_numeric(const char *node)
{
	struct in_addr v4;
	struct in6_addr v6;
	return inet_aton(node, &v4) != 0 || inet_pton(AF_INET6, node, &v6) == 1 ||
	       strchr(node, '%') != NULL;
}

static void remember_addrinfo(const char *node, const struct addrinfo *ai)
{
	struct bs_ipaddr addrs[BS_NAMES_ADDRS];
	size_t n = 0;
	for (; ai != NULL && n < BS_NAMES_ADDRS; ai = ai->ai_next)
		if (bs_ipaddr_of(ai->ai_addr, ai->ai_addrlen, &addrs[n]))
			n++;
	bs_names_remember(node, addrs, n);
}

static void remember_hostent(const char *node, const struct hostent *h)
{
	struct bs_ipaddr addrs[BS_NAMES_ADDRS];
	size_t n = 0, len = h->h_addrtype == AF_INET ? 4 : 16;
	if ((h->h_addrtype != AF_INET && h->h_addrtype != AF_INET6) ||
	    (size_t)h->h_length != len)
		return;
	for (char **a = h->h_addr_list; *a != NULL && n < BS_NAMES_ADDRS; a++, n++) {
		memset(&addrs[n], 0, sizeof addrs[n]);
		addrs[n].family = (sa_family_t)h->h_addrtype;
		memcpy(addrs[n].bytes, *a, len);
		/* gethostbyname2(AF_INET6) with RES_USE_INET6 maps v4 addresses. */
		if (len == 16 && IN6_IS_ADDR_V4MAPPED((struct in6_addr *)addrs[n].bytes)) {
			addrs[n].family = AF_INET;
			memmove(addrs[n].bytes, addrs[n].bytes + 12, 4);
			memset(addrs[n].bytes + 4, 0, 12);
		}
	}
	bs_names_remember(node, addrs, n);
}

/* ---- the real calls ------------------------------------------------------- */

static int attempt_getaddrinfo(struct lookup *l)
{
	return BS_REAL(getaddrinfo)(l->node, l->service, l->hints, l->res);
}

static int attempt_gethostbyname(struct lookup *l)
{
	l->static_result = BS_REAL(gethostbyname)(l->node);
	return l->static_result != NULL ? 0 : h_errno_code(h_errno);
}

static int attempt_gethostbyname2(struct lookup *l)
{
	l->static_result = BS_REAL(gethostbyname2)(l->node, l->af);
	return l->static_result != NULL ? 0 : h_errno_code(h_errno);
}

/* A buffer too small (ERANGE) is the program's to handle: never retried. */
static int reentrant_outcome(struct lookup *l, int rc)
{
	l->rc = rc;
	if (rc == 0 && *l->result != NULL)
		return 0;
	return rc == ERANGE ? EAI_OVERFLOW : h_errno_code(*l->h_errnop);
}

static int attempt_gethostbyname_r(struct lookup *l)
{
	int rc = BS_REAL(gethostbyname_r)(l->node, l->ret, l->buf, l->buflen, l->result,
					  l->h_errnop);
	return reentrant_outcome(l, rc);
}

static int attempt_gethostbyname2_r(struct lookup *l)
{
	int rc = BS_REAL(gethostbyname2_r)(l->node, l->af, l->ret, l->buf, l->buflen,
					   l->result, l->h_errnop);
	return reentrant_outcome(l, rc);
}

/* ---- the retry loop's view ------------------------------------------------ */

static int attempt_io(void *ctx, bs_ns bound)
{
	(void)bound; /* a lookup is bounded by the program's resolver options */
	struct lookup *l = ctx;
	if (l->replay) {
		l->replay = false;
	} else {
		l->code = l->attempt(l);
		l->err = errno;
	}
	return l->code;
}

/* The first attempt's bound is taken as of when it began. */
static bs_ns now_io(void *ctx)
{
	struct lookup *l = ctx;
	return l->replay ? l->start : bs_now();
}

/* The call: one attempt, then retries when the policy says so. */
static int run(struct lookup *l, const char *call)
{
	struct bs_runtime *rt = bs_runtime();
	l->start = rt != NULL ? bs_now() : 0;
	l->code = l->attempt(l);
	l->err = errno;
	if (rt != NULL && l->code != 0 && l->node != NULL && !is_numeric(l->node) &&
	    bs_dns_retryable(&rt->policy->dns, l->code)) {
		const struct bs_dns_call c = {
			.policy = &rt->policy->dns, .rng = bs_thread_rng(), .log = &rt->log,
			.name = l->node, .call = call, .start = l->start,
		};
		const struct bs_retry_io io = {
			.ctx = l, .attempt = attempt_io, .pause = bs_pause_io, .now = now_io,
		};
		l->replay = true;
		bs_dns_retry(&c, &io);
	}
	errno = l->err;
	return l->code;
}

/* ---- the exported calls --------------------------------------------------- */

BS_EXPORT int getaddrinfo(const char *node, const char *service,
			  const struct addrinfo *hints, struct addrinfo **res)
{
	struct lookup l = { .attempt = attempt_getaddrinfo, .node = node,
			    .service = service, .hints = hints, .res = res };
	int code = run(&l, "getaddrinfo");
	if (code == 0 && node != NULL && !is_numeric(node))
		remember_addrinfo(node, *res);
	return code;
}

BS_EXPORT struct hostent *gethostbyname(const char *name)
{
	struct lookup l = { .attempt = attempt_gethostbyname, .node = name };
	if (run(&l, "gethostbyname") == 0 && !is_numeric(name))
		remember_hostent(name, l.static_result);
	return l.static_result;
}

BS_EXPORT struct hostent *gethostbyname2(const char *name, int af)
{
	struct lookup l = { .attempt = attempt_gethostbyname2, .node = name, .af = af };
	if (run(&l, "gethostbyname2") == 0 && !is_numeric(name))
		remember_hostent(name, l.static_result);
	return l.static_result;
}

/* The return value is the last real call's. */
BS_EXPORT int gethostbyname_r(const char *name, struct hostent *ret, char *buf,
			      size_t buflen, struct hostent **result, int *h_errnop)
{
	struct lookup l = { .attempt = attempt_gethostbyname_r, .node = name, .ret = ret,
			    .buf = buf, .buflen = buflen, .result = result,
			    .h_errnop = h_errnop };
	int code = run(&l, "gethostbyname_r");
	if (code == 0 && !is_numeric(name))
		remember_hostent(name, *result);
	return l.rc;
}

BS_EXPORT int gethostbyname2_r(const char *name, int af, struct hostent *ret,
			       char *buf, size_t buflen, struct hostent **result,
			       int *h_errnop)
{
	struct lookup l = { .attempt = attempt_gethostbyname2_r, .node = name, .af = af,
			    .ret = ret, .buf = buf, .buflen = buflen, .result = result,
			    .h_errnop = h_errnop };
	int code = run(&l, "gethostbyname2_r");
	if (code == 0 && !is_numeric(name))
		remember_hostent(name, *result);
	return l.rc;
}
