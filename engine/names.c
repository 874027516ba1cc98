/* The names the program resolved (see names.h).
 *
 * A ring of lookups, each behind its own seqlock: a writer claims a slot
 * by moving its sequence from even to odd (a slot another writer holds is
 * skipped), stores the words, and makes it even again; a reader copies the
 * words and keeps the copy only when the sequence was even and unchanged
 * around it. Every word is an atomic, so the races a seqlock is built on
 * are well defined; the words are stored with release and loaded with
 * acquire instead of fences (Boehm's fence-free seqlock: a reader that saw
 * a word of a new write then sees the odd sequence that preceded it), which
 * is free on x86 and what TSan can check (it rejects atomic_thread_fence).
 *
 * The address index is open addressing over single atomic words, each a
 * 48-bit tag of the address's hash and the slot of the lookup that holds
 * it. An entry is only a hint: a reader checks the address in the slot
 * itself, so a stale entry (its slot reused since) or a tag collision
 * costs one slot read, never a wrong name. A newer lookup of an address
 * takes over that address's entry. */
#include "engine/names.h"

#include <netinet/in.h>
#include <stdatomic.h>
#include <string.h>

#define NAME_WORDS (BS_HOST_MAX / 8)
#define INDEX_SIZE 1024 /* a power of two, 8 per lookup slot */
#define PROBES 8

struct lookup {
	_Atomic uint32_t seq;
	_Atomic uint64_t count;   /* addresses held */
	_Atomic uint64_t v6_mask; /* bit i: address i is AF_INET6 */
	_Atomic uint64_t name[NAME_WORDS];
	_Atomic uint64_t addr[BS_NAMES_ADDRS][2];
};

/* What a reader copies out of a slot. */
struct snapshot {
	uint64_t count, v6_mask;
	uint64_t name[NAME_WORDS];
	uint64_t addr[BS_NAMES_ADDRS][2];
};

static struct lookup ring[BS_NAMES_LOOKUPS];
static _Atomic uint64_t index_[INDEX_SIZE];
static _Atomic uint32_t next_slot;

bool bs_ipaddr_of(const struct sockaddr *sa, socklen_t len, struct bs_ipaddr *out)
{
	if (sa == NULL)
		return false;
	memset(out, 0, sizeof *out);
	if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
		out->family = AF_INET;
		memcpy(out->bytes, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		return true;
	}
	if (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
		if (IN6_IS_ADDR_V4MAPPED(a)) {
			out->family = AF_INET;
			memcpy(out->bytes, a->s6_addr + 12, 4);
		} else {
			out->family = AF_INET6;
			memcpy(out->bytes, a->s6_addr, 16);
		}
		return true;
	}
	return false;
}

static void addr_words(const struct bs_ipaddr *a, uint64_t w[2])
{
	memcpy(w, a->bytes, 16);
}

static uint64_t addr_hash(const struct bs_ipaddr *a)
{
	uint64_t w[2];
	addr_words(a, w);
	uint64_t h = (w[0] ^ a->family) * 0x9e3779b97f4a7c15ull;
	h = (h ^ (h >> 29) ^ w[1]) * 0xbf58476d1ce4e5b9ull;
	h = (h ^ (h >> 32)) * 0x94d049bb133111ebull;
	return h ^ (h >> 29);
}

static uint64_t tag_of(uint64_t hash)
{
	return hash >> 16;
}

static bool same_addr(const struct bs_ipaddr *a, const struct bs_ipaddr *b)
{
	return a->family == b->family && memcmp(a->bytes, b->bytes, 16) == 0;
}

/* ---- writing -------------------------------------------------------------- */

/* Lower case, no trailing dot, zero-padded to BS_HOST_MAX. Returns the
 * length. */
static size_t canonical_name(const char *name, char out[BS_HOST_MAX])
{
	size_t len = 0;
	memset(out, 0, BS_HOST_MAX);
	for (; name[len] != '\0' && len < BS_HOST_MAX - 1; len++) {
		char c = name[len];
		out[len] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
	}
	if (len > 0 && out[len - 1] == '.')
		out[--len] = '\0';
	return len;
}

/* Claim a slot: its sequence, now odd. */
static struct lookup *claim(uint32_t *seq)
{
	for (int tries = 0; tries < 4; tries++) {
		uint32_t n = atomic_fetch_add_explicit(&next_slot, 1, memory_order_relaxed);
		struct lookup *s = &ring[n % BS_NAMES_LOOKUPS];
		uint32_t cur = atomic_load_explicit(&s->seq, memory_order_relaxed);
		if ((cur & 1) == 0 &&
		    atomic_compare_exchange_strong_explicit(&s->seq, &cur, cur + 1,
							    memory_order_relaxed,
							    memory_order_relaxed)) {
			*seq = cur + 1;
			return s;
		}
	}
	return NULL; /* every slot tried is being written: drop this one */
}

static void index_add(const struct bs_ipaddr *a, uint32_t slot)
{
	uint64_t h = addr_hash(a), tag = tag_of(h);
	uint64_t entry = tag << 16 | (slot + 1);
	for (unsigned i = 0; i < PROBES; i++) {
		_Atomic uint64_t *e = &index_[(h + i) & (INDEX_SIZE - 1)];
		uint64_t cur = atomic_load_explicit(e, memory_order_relaxed);
		if (cur == 0 || cur >> 16 == tag) {
			atomic_store_explicit(e, entry, memory_order_relaxed);
			return;
		}
	}
	/* A full neighbourhood: the newest lookup takes the home entry. */
	atomic_store_explicit(&index_[h & (INDEX_SIZE - 1)], entry, memory_order_relaxed);
}

void bs_names_remember(const char *name, const struct bs_ipaddr *addrs, size_t n)
{
	char canon[BS_HOST_MAX];
	struct bs_ipaddr kept[BS_NAMES_ADDRS];
	size_t count = 0;
	if (name == NULL || canonical_name(name, canon) == 0)
		return;
	for (size_t i = 0; i < n && count < BS_NAMES_ADDRS; i++) {
		bool dup = false;
		for (size_t j = 0; j < count && !dup; j++)
			dup = same_addr(&kept[j], &addrs[i]);
		if (!dup && (addrs[i].family == AF_INET || addrs[i].family == AF_INET6))
			kept[count++] = addrs[i];
	}
	if (count == 0)
		return;

	uint32_t seq;
	struct lookup *s = claim(&seq);
	if (s == NULL)
		return;
	uint64_t words[NAME_WORDS], v6 = 0;
	memcpy(words, canon, sizeof words);
	/* Release: a reader that sees any of these sees the odd sequence. */
	for (size_t i = 0; i < NAME_WORDS; i++)
		atomic_store_explicit(&s->name[i], words[i], memory_order_release);
	for (size_t i = 0; i < count; i++) {
		uint64_t w[2];
		addr_words(&kept[i], w);
		atomic_store_explicit(&s->addr[i][0], w[0], memory_order_release);
		atomic_store_explicit(&s->addr[i][1], w[1], memory_order_release);
		if (kept[i].family == AF_INET6)
			v6 |= 1u << i;
	}
	atomic_store_explicit(&s->count, count, memory_order_release);
	atomic_store_explicit(&s->v6_mask, v6, memory_order_release);
	atomic_store_explicit(&s->seq, seq + 1, memory_order_release);

	uint32_t slot = (uint32_t)(s - ring);
	for (size_t i = 0; i < count; i++)
		index_add(&kept[i], slot);
}

/* ---- reading -------------------------------------------------------------- */

static bool read_slot(const struct lookup *s, struct snapshot *out)
{
	uint32_t before = atomic_load_explicit(&s->seq, memory_order_acquire);
	if (before & 1)
		return false;
	/* Acquire: the sequence is read again only after every word. */
	out->count = atomic_load_explicit(&s->count, memory_order_acquire);
	out->v6_mask = atomic_load_explicit(&s->v6_mask, memory_order_acquire);
	if (out->count > BS_NAMES_ADDRS)
		out->count = BS_NAMES_ADDRS;
	for (size_t i = 0; i < NAME_WORDS; i++)
		out->name[i] = atomic_load_explicit(&s->name[i], memory_order_acquire);
	for (size_t i = 0; i < out->count; i++) {
		out->addr[i][0] = atomic_load_explicit(&s->addr[i][0], memory_order_acquire);
		out->addr[i][1] = atomic_load_explicit(&s->addr[i][1], memory_order_acquire);
	}
	return before != 0 &&
	       atomic_load_explicit(&s->seq, memory_order_relaxed) == before;
}

static struct bs_ipaddr snapshot_addr(const struct snapshot *s, size_t i)
{
	struct bs_ipaddr a = { .family = (s->v6_mask >> i) & 1 ? AF_INET6 : AF_INET };
	memcpy(a.bytes, s->addr[i], 16);
	return a;
}

static bool snapshot_has(const struct snapshot *s, const struct bs_ipaddr *addr)
{
	for (size_t i = 0; i < s->count; i++) {
		struct bs_ipaddr a = snapshot_addr(s, i);
		if (same_addr(&a, addr))
			return true;
	}
	return false;
}

bool bs_names_find(const struct bs_ipaddr *addr, char *name, size_t cap,
		   struct bs_ipaddr *addrs, size_t *n)
{
	uint64_t h = addr_hash(addr), tag = tag_of(h);
	for (unsigned i = 0; i < PROBES; i++) {
		uint64_t e = atomic_load_explicit(&index_[(h + i) & (INDEX_SIZE - 1)],
						  memory_order_relaxed);
		if (e == 0)
			return false;
		if (e >> 16 != tag)
			continue;
		struct snapshot snap;
		const struct lookup *s = &ring[((e & 0xffff) - 1) % BS_NAMES_LOOKUPS];
		if (!read_slot(s, &snap) || !snapshot_has(&snap, addr))
			continue;
		const char *text = (const char *)snap.name;
		size_t len = strnlen(text, BS_HOST_MAX - 1);
		if (len >= cap)
			len = cap - 1;
		memcpy(name, text, len);
		name[len] = '\0';
		if (addrs != NULL) {
			for (size_t j = 0; j < snap.count; j++)
				addrs[j] = snapshot_addr(&snap, j);
			*n = snap.count;
		}
		return true;
	}
	return false;
}

void bs_names_clear(void)
{
	for (size_t i = 0; i < INDEX_SIZE; i++)
		atomic_store(&index_[i], 0);
	for (size_t i = 0; i < BS_NAMES_LOOKUPS; i++) {
		atomic_store(&ring[i].count, 0);
		atomic_store(&ring[i].seq, 0);
	}
}
