/* A small, fast pseudo-random generator (xoshiro256**). Not for secrets:
 * it spreads retries. One state per thread; no locks, no allocation. */
#ifndef BS_RNG_H
#define BS_RNG_H

#include <stdint.h>

struct bs_rng {
	uint64_t s[4];
};

/* Expand a 64-bit seed into a full state (splitmix64), so that nearby
 * seeds give unrelated streams. */
void bs_rng_seed(struct bs_rng *rng, uint64_t seed);
uint64_t bs_rng_next(struct bs_rng *rng);
/* Uniform in [0, n); 0 when n == 0. Unbiased. */
uint64_t bs_rng_below(struct bs_rng *rng, uint64_t n);
/* A seed from the kernel (getrandom), falling back to clock and pid mixing
 * when getrandom is unavailable. Async-signal-safe. */
uint64_t bs_rng_kernel_seed(void);
/* Mix a stream ordinal into a seed: the seed for the n-th thread (or
 * forked child) of a run with a fixed BACKSTOP_SEED. */
uint64_t bs_rng_derive(uint64_t seed, uint64_t ordinal);

#endif
