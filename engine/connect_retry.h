/* A connect as the retry engine's subject (engine/retry.h): its log lines
 * are connect.retry / connect.ok / connect.giveup with fd, dest (and name,
 * when the program resolved dest from one) and rule,
 * and only the errors of the rule's retry_on are retried. */
#ifndef BS_CONNECT_RETRY_H
#define BS_CONNECT_RETRY_H

#include "engine/retry.h"

/* How the program's connect is being retried, as the `mode` field says:
 * a blocking socket inside connect, a nonblocking one inside connect
 * (nonblocking = sync), or behind the program's own readiness calls
 * (nonblocking = async). */
#define BS_CONNECT_BLOCKING "blocking"
#define BS_CONNECT_SYNC "sync"
#define BS_CONNECT_ASYNC "async"

struct bs_connect_call {
	const struct bs_rule *rule;
	struct bs_rng *rng;
	struct bs_log *log;   /* NULL: log nothing */
	int fd;
	const char *dest;     /* formatted with bs_dest_format; failover may
			       * rewrite it between attempts */
	const char *name;     /* the host name dest was resolved from, or NULL */
	const char *mode;     /* BS_CONNECT_BLOCKING, _SYNC or _ASYNC */
	bs_ns start;          /* when the program's call began */
	bool waited;          /* a cap wait preceded: log connect.ok even on a first-try success */
	bs_ns deadline;       /* bound on the whole call; 0: the rule's deadline */
	const struct bs_guard *guard; /* budget and breaker; NULL: none */
};

/* The engine's view of c, which must outlive *out and every step taken
 * with it. */
void bs_connect_retry_call(struct bs_retry_call *out, const struct bs_connect_call *c);

/* The blocking loop for one connect: bs_retry_run over c. */
int bs_connect_retry(const struct bs_connect_call *c, const struct bs_retry_io *io);

#endif
