/* A name lookup as the retry engine's subject (engine/retry.h): its log
 * lines are dns.retry / dns.ok / dns.giveup with `name` and `call`, a
 * failure is written as `error` (the EAI_* name), and only the codes of
 * [dns] retry_on are retried. Failures are getaddrinfo's EAI_* codes
 * (negative); the gethostbyname family's h_errno is mapped to them. */
#ifndef BS_DNS_RETRY_H
#define BS_DNS_RETRY_H

#include "engine/retry.h"

struct bs_dns_call {
	const struct bs_dns_policy *policy;
	struct bs_rng *rng;
	struct bs_log *log;   /* NULL: log nothing */
	const char *name;     /* what the program looked up */
	const char *call;     /* "getaddrinfo", "gethostbyname", ... */
	bs_ns start;          /* when the program's call began */
};

/* The blocking loop for one lookup: bs_retry_run over c. The attempt
 * returns 0 or an EAI_* code; so does this (an interrupted pause gives
 * back the last lookup's code). */
int bs_dns_retry(const struct bs_dns_call *c, const struct bs_retry_io *io);

/* Whether the first failure `code` is worth a retry loop at all. */
bool bs_dns_retryable(const struct bs_dns_policy *policy, int code);

#endif
