/* The retry budget (see budget.h). A grant is "count, then check, undo
 * when over": every granted retry was counted before the check that let
 * it through, so the last grant's check saw every earlier one, and the
 * number granted never exceeds what that check allowed. */
#include "engine/budget.h"

static bs_ns bucket_width(const struct bs_budget_params *p)
{
	bs_ns w = p->window / BS_BUDGET_BUCKETS;
	return w != 0 ? w : 1;
}

static uint32_t epoch_at(const struct bs_budget_params *p, bs_ns now)
{
	return (uint32_t)(now / bucket_width(p));
}

static uint32_t word_epoch(uint64_t w)
{
	return (uint32_t)(w >> 32);
}

static uint32_t word_count(uint64_t w)
{
	return (uint32_t)w;
}

static uint64_t make_word(uint32_t epoch, uint32_t count)
{
	return (uint64_t)epoch << 32 | count;
}

/* Add one to the bucket of `epoch`, restarting it when it held an older
 * epoch. */
static void bump(_Atomic uint64_t *bucket, uint32_t epoch)
{
	uint64_t w = atomic_load(bucket);
	uint64_t next;
	do {
		next = word_epoch(w) == epoch ? w + (word_count(w) != UINT32_MAX)
					      : make_word(epoch, 1);
	} while (!atomic_compare_exchange_weak(bucket, &w, next));
}

/* Take back one count of `epoch`, unless the bucket moved on since. */
static void unbump(_Atomic uint64_t *bucket, uint32_t epoch)
{
	uint64_t w = atomic_load(bucket);
	while (word_epoch(w) == epoch && word_count(w) > 0 &&
	       !atomic_compare_exchange_weak(bucket, &w, w - 1))
		;
}

static uint64_t window_sum(const _Atomic uint64_t *buckets, uint32_t epoch)
{
	uint64_t sum = 0;
	for (unsigned i = 0; i < BS_BUDGET_BUCKETS; i++) {
		uint64_t w = atomic_load(&buckets[i]);
		if ((uint32_t)(epoch - word_epoch(w)) < BS_BUDGET_BUCKETS)
			sum += word_count(w);
	}
	return sum;
}

static _Atomic uint64_t *bucket_of(_Atomic uint64_t *buckets, uint32_t epoch)
{
	return &buckets[epoch % BS_BUDGET_BUCKETS];
}

void bs_budget_view(const struct bs_budget *b, const struct bs_budget_params *p,
		    bs_ns now, struct bs_budget_view *out)
{
	const uint32_t epoch = epoch_at(p, now);
	out->calls = window_sum(b->calls, epoch);
	out->retries = window_sum(b->retries, epoch);
	out->allowed = out->calls * p->percent / 100 +
		       (uint64_t)p->min_per_sec * p->window / BS_SEC;
}

void bs_budget_call(struct bs_budget *b, const struct bs_budget_params *p, bs_ns now)
{
	const uint32_t epoch = epoch_at(p, now);
	bump(bucket_of(b->calls, epoch), epoch);
}

bool bs_budget_retry(struct bs_budget *b, const struct bs_budget_params *p, bs_ns now,
		     struct bs_budget_view *seen)
{
	const uint32_t epoch = epoch_at(p, now);
	_Atomic uint64_t *mine = bucket_of(b->retries, epoch);
	bump(mine, epoch);
	struct bs_budget_view v;
	bs_budget_view(b, p, now, &v);
	const bool granted = v.retries <= v.allowed;
	if (!granted) {
		unbump(mine, epoch);
		v.retries--;
	}
	if (seen != NULL)
		*seen = v;
	return granted;
}

bool bs_budget_first_refusal(struct bs_budget *b, const struct bs_budget_params *p,
			     bs_ns now)
{
	const uint64_t epoch = epoch_at(p, now);
	uint64_t last = atomic_load(&b->reported);
	do {
		if (last != 0 && (uint32_t)(epoch - (last - 1)) < BS_BUDGET_BUCKETS)
			return false;
	} while (!atomic_compare_exchange_weak(&b->reported, &last, epoch + 1));
	return true;
}
