/* Holders (see fdholders.h): a pool mapped once, recycled through a
 * lock-free stack whose head carries a generation tag (no ABA). */
#include "preload/fdholders.h"

static struct {
	struct bs_holder *pool;      /* holder id h is pool[h - 1] */
	uint32_t n;
	_Atomic uint32_t fresh;      /* holders never used yet start here */
	_Atomic uint64_t free_head;  /* generation << 32 | holder id */
} g;

void bs_holders_init(struct bs_holder *pool, uint32_t n)
{
	g.pool = pool;
	g.n = pool ? n : 0;
}

struct bs_holder *bs_holder_at(uint32_t id)
{
	return &g.pool[id - 1];
}

static uint32_t holder_alloc(void)
{
	uint64_t head = atomic_load(&g.free_head);
	while ((uint32_t)head != 0) {
		uint32_t id = (uint32_t)head;
		uint32_t next = atomic_load(&bs_holder_at(id)->next_free);
		uint64_t want = ((head >> 32) + 1) << 32 | next;
		if (atomic_compare_exchange_weak(&g.free_head, &head, want))
			return id;
	}
	uint32_t id = atomic_fetch_add(&g.fresh, 1) + 1;
	return id <= g.n ? id : 0;
}

uint32_t bs_holder_new(struct bs_caps *caps, uint32_t slot, uint32_t refs)
{
	uint32_t id = holder_alloc();
	if (id == 0)
		return 0;
	struct bs_holder *h = bs_holder_at(id);
	atomic_store(&h->slot, slot);
	atomic_store(&h->caps, caps);
	atomic_store(&h->refs, refs);
	return id;
}

void bs_holder_free(uint32_t id)
{
	uint64_t head = atomic_load(&g.free_head);
	uint64_t want;
	do {
		atomic_store(&bs_holder_at(id)->next_free, (uint32_t)head);
		want = ((head >> 32) + 1) << 32 | id;
	} while (!atomic_compare_exchange_weak(&g.free_head, &head, want));
}

bool bs_holder_put(uint32_t id)
{
	struct bs_holder *h = bs_holder_at(id);
	if (atomic_fetch_sub(&h->refs, 1) != 1)
		return false;
	bs_cap_release(atomic_load_explicit(&h->caps, memory_order_relaxed),
		       atomic_load_explicit(&h->slot, memory_order_relaxed));
	bs_holder_free(id);
	return true;
}

bool bs_holder_get(uint32_t id)
{
	struct bs_holder *h = bs_holder_at(id);
	uint32_t refs = atomic_load(&h->refs);
	while (refs != 0)
		if (atomic_compare_exchange_weak(&h->refs, &refs, refs + 1))
			return true;
	return false;
}

void bs_holders_sweep(uint32_t gen)
{
	uint32_t used = atomic_load(&g.fresh);
	for (uint32_t id = 1; id <= used && id <= g.n; id++) {
		struct bs_holder *h = bs_holder_at(id);
		if (h->fork_mark != gen && atomic_load(&h->refs) != 0) {
			atomic_store(&h->refs, 0);
			bs_holder_free(id);
		}
	}
}
