/* xoshiro256** (Blackman & Vigna), seeded through splitmix64. */
#include "engine/rng.h"

#include <errno.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define GOLDEN_GAMMA 0x9e3779b97f4a7c15ull

/* One splitmix64 output for state x: a bijective 64-bit mixer. */
static uint64_t splitmix64_mix(uint64_t x)
{
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static uint64_t splitmix64_next(uint64_t *state)
{
	*state += GOLDEN_GAMMA;
	return splitmix64_mix(*state);
}

void bs_rng_seed(struct bs_rng *rng, uint64_t seed)
{
	uint64_t sm = seed;
	for (int i = 0; i < 4; i++)
		rng->s[i] = splitmix64_next(&sm);
	/* The all-zero state is xoshiro's only fixed point. splitmix64 cannot
	 * produce four zero words in a row, but make it obvious. */
	if ((rng->s[0] | rng->s[1] | rng->s[2] | rng->s[3]) == 0)
		rng->s[0] = GOLDEN_GAMMA;
}

static inline uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t bs_rng_next(struct bs_rng *rng)
{
	uint64_t *s = rng->s;
	uint64_t result = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

/* Lemire's multiply-shift with rejection ("Fast Random Integer Generation
 * in an Interval", 2019): unbiased, usually without a division. */
uint64_t bs_rng_below(struct bs_rng *rng, uint64_t n)
{
	if (n == 0)
		return 0;
	__uint128_t m = (__uint128_t)bs_rng_next(rng) * n;
	uint64_t low = (uint64_t)m;
	if (low < n) {
		uint64_t threshold = -n % n; /* 2^64 mod n */
		while (low < threshold) {
			m = (__uint128_t)bs_rng_next(rng) * n;
			low = (uint64_t)m;
		}
	}
	return (uint64_t)(m >> 64);
}

/* When getrandom is missing (old kernel, seccomp) or would block (early
 * boot): mix what differs between processes and between calls. Enough to
 * spread retries, which is all this generator is for. */
static uint64_t fallback_seed(void)
{
	struct timespec rt = { 0, 0 }, mono = { 0, 0 };
	clock_gettime(CLOCK_REALTIME, &rt);
	clock_gettime(CLOCK_MONOTONIC, &mono);
	uint64_t h = splitmix64_mix((uint64_t)rt.tv_sec * 1000000000ull + (uint64_t)rt.tv_nsec);
	h = splitmix64_mix(h ^ ((uint64_t)mono.tv_sec * 1000000000ull + (uint64_t)mono.tv_nsec));
	h = splitmix64_mix(h ^ (uint64_t)getpid());
	h = splitmix64_mix(h ^ (uint64_t)syscall(SYS_gettid));
	h = splitmix64_mix(h ^ (uint64_t)(uintptr_t)&rt); /* stack address: ASLR */
	return h;
}

uint64_t bs_rng_kernel_seed(void)
{
	int saved = errno;
	uint64_t seed = 0;
	long got = syscall(SYS_getrandom, &seed, sizeof(seed), GRND_NONBLOCK);
	if (got != (long)sizeof(seed))
		seed = fallback_seed();
	errno = saved;
	return seed;
}

/* Two rounds of mixing, keyed by the ordinal through a second odd
 * constant, so that derive(s, n) is unrelated to both s and derive(s, n+1)
 * and to the streams bs_rng_seed expands from nearby seeds. */
uint64_t bs_rng_derive(uint64_t seed, uint64_t ordinal)
{
	uint64_t x = splitmix64_mix(seed ^ 0x2545f4914f6cdd1dull);
	return splitmix64_mix(x + (ordinal + 1) * GOLDEN_GAMMA);
}
