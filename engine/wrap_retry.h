/* A declared wrapper's call as the retry engine's subject (engine/retry.h):
 * log lines wrap.retry / wrap.ok / wrap.giveup with the symbol, the return
 * of the latest call (and its errno when retry_if names errno), and the
 * test of a return against the wrapper's retry_if. No interposition here:
 * the preload makes the calls (preload/wrap.c). */
#ifndef BS_WRAP_RETRY_H
#define BS_WRAP_RETRY_H

#include "engine/retry.h"

/* The return of one call, decoded by its declared type: .i for the signed
 * types, .u for the unsigned ones, .d for double, .p for pointer. */
union bs_wrap_ret {
	int64_t i;
	uint64_t u;
	double d;
	const void *p;
};

/* What an attempt reports to the engine when retry_if matched. Any value
 * but ETIMEDOUT (which the engine reads as "the attempt's bound ran out")
 * would do: the log shows the return and errno instead. */
#define BS_WRAP_TRANSIENT EAGAIN

struct bs_wrap_call {
	const struct bs_wrap *wrap;
	struct bs_rng *rng;
	struct bs_log *log;   /* NULL: log nothing */
	bs_ns start;          /* when the program's call began */
	/* The latest call's outcome, kept up to date by the caller's attempt:
	 * what the failure fields show. */
	union bs_wrap_ret ret;
	int err;
};

/* Whether a call that returned ret with errno err is a transient failure. */
bool bs_wrap_should_retry(const struct bs_wrap *w, union bs_wrap_ret ret, int err);

/* Write ret as a JSON value under key: a number, or for a pointer null or
 * its address as a "0x..." string. Async-signal-safe. */
void bs_wrap_line_return(struct bs_logline *line, const char *key,
			 enum bs_ctype type, union bs_wrap_ret ret);

/* The blocking loop for one program call: bs_retry_run over c, whose
 * attempts return 0 or BS_WRAP_TRANSIENT. No per-attempt bound: a library
 * call cannot be cut short, so only the pauses are fitted to the deadline. */
int bs_wrap_retry(struct bs_wrap_call *c, const struct bs_retry_io *io);

#endif
