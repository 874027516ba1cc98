/* A circuit breaker for one destination.
 *
 * closed -> open: `threshold` consecutive failed attempts (an attempt
 *   that ended with an error the rule retries: the destination refused,
 *   timed out, was unreachable). The circuit stays open for a cooldown of
 *   breaker_cooldown * n (n: opens since the last close), at most
 *   breaker_cooldown_max, jittered uniformly in [half, all] of it, so
 *   breakers opened together in many processes do not probe together.
 * open -> half-open: the first caller after the cooldown becomes the one
 *   probe; nobody else touches the network until its verdict. A probe
 *   that never reports (its process died) is replaced once its bound
 *   passed.
 * half-open -> closed: any success (the probe's or a late attempt's).
 * half-open -> open: the probe failed; the next cooldown is longer.
 *
 * The whole state is one atomic word changed by compare-and-swap: no lock,
 * no pointer, zero is "closed, no failures". So it works the same in
 * process memory and in the machine-wide state file, where a process
 * killed at any instruction can leave nothing half-written. Times are
 * CLOCK_MONOTONIC (the same for every process), kept in milliseconds. */
#ifndef BS_BREAKER_H
#define BS_BREAKER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "engine/rng.h"
#include "policy/policy.h"

/* Without breaker_cooldown_max, the cooldown grows up to 10x (as Envoy's
 * ejections). */
#define BS_BREAKER_GROWTH_MAX 10

struct bs_breaker {
	_Atomic uint64_t word;
	/* Waits of held calls so far: the n-th is spaced by n (guard.c). */
	_Atomic uint64_t holds;
};

struct bs_breaker_params {
	uint32_t threshold;  /* > 0 */
	bs_ns cooldown;      /* the first open period, > 0 */
	bs_ns cooldown_max;  /* the longest, >= cooldown; 0: BS_BREAKER_GROWTH_MAX x cooldown */
};

enum bs_breaker_state { BS_BREAKER_CLOSED, BS_BREAKER_OPEN, BS_BREAKER_HALF_OPEN };

/* A readable copy of the word. */
struct bs_breaker_view {
	enum bs_breaker_state state;
	uint32_t failures;   /* consecutive failed attempts (kept while open) */
	uint32_t opens;      /* opens since the last close */
	int last_err;        /* the latest real error (0: none yet) */
	bs_ns until;         /* open: when it half-opens; half-open: when the probe lapses */
};

void bs_breaker_read(const struct bs_breaker *b, struct bs_breaker_view *out);

enum bs_breaker_verdict {
	BS_BREAKER_PASS,   /* closed: attempt */
	BS_BREAKER_PROBE,  /* this caller is the half-open probe: attempt */
	BS_BREAKER_BLOCK,  /* open, or a probe is out: no attempt (see *seen) */
};

/* Before an attempt at `now`. A probe's verdict is expected within
 * probe_bound (its attempt's bound). *seen is the state the verdict was
 * made on (for PROBE: the half-open state just entered). */
enum bs_breaker_verdict bs_breaker_admit(struct bs_breaker *b, bs_ns now,
					 bs_ns probe_bound,
					 struct bs_breaker_view *seen);

/* An attempt failed with err (one that counts, see above). Returns true
 * when this failure opened the circuit; *opened then says how (until:
 * the end of the cooldown, jittered with rng). */
bool bs_breaker_failed(struct bs_breaker *b, const struct bs_breaker_params *p,
		       bs_ns now, int err, struct bs_rng *rng,
		       struct bs_breaker_view *opened);

/* An attempt succeeded. Returns true when this closed an open or
 * half-open circuit; *was is the state it closed. A closed circuit with
 * no failures costs one atomic load. */
bool bs_breaker_succeeded(struct bs_breaker *b, struct bs_breaker_view *was);

/* The nominal (unjittered) cooldown after `opens` opens. */
bs_ns bs_breaker_cooldown(const struct bs_breaker_params *p, uint32_t opens);

#endif
