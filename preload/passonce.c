/* Destinations connect.pass has reported (see passonce.h). */
#include "preload/passonce.h"

#include <stdatomic.h>
#include <stdint.h>

#define PASS_SEEN_MAX 256
/* Hashes of destinations already reported; 0 marks a free entry. */
static _Atomic uint64_t pass_seen[PASS_SEEN_MAX];

static uint64_t fnv1a(const char *s)
{
	uint64_t h = 14695981039346656037ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h != 0 ? h : 1;
}

bool bs_first_pass_to(const char *dest)
{
	uint64_t h = fnv1a(dest);
	for (unsigned i = 0; i < PASS_SEEN_MAX; i++) {
		_Atomic uint64_t *e = &pass_seen[(h + i) % PASS_SEEN_MAX];
		uint64_t seen = atomic_load_explicit(e, memory_order_relaxed);
		if (seen == 0 && atomic_compare_exchange_strong(e, &seen, h))
			return true;
		if (seen == h)
			return false;
	}
	return false;
}
