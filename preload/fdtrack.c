/* Descriptor tracking: which fds hold a cap slot (backstop's private
 * descriptors are preload/fdprivate.c's).
 *
 * The table has one word per fd number (a 32-bit entry and the flags
 * byte, fdtrack.h) up to the hard RLIMIT_NOFILE (at most BS_FDT_LIMIT),
 * mapped once with MAP_NORESERVE so untouched pages cost nothing. Entries
 * change by compare-and-swap of the word, which keeps its flags (flags
 * change by fetch_or and fetch_and of theirs). A tracked entry holds its socket's cap
 * slot itself (BS_FDT_DIRECT | slot) until the socket is first dup'ed;
 * then it names a holder (fdholders.h): one record per socket, shared by
 * every number dup'ed from it, with a reference count; the last reference
 * releases the cap slot. A bitmap over the entries is a
 * conservative hint (a bit may be set for an empty entry, never clear for
 * a full one), so close_range, closefrom and reclaim visit only the
 * numbers that were ever tracked below a high-water mark.
 *
 * backstop's private descriptors are fdprivate.c's.
 *
 * Everything is per process: the memory is private, so a forked child
 * works on its own copy and its closes release the child's slots only;
 * exec discards it all. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "preload/fdholders.h"
#include "preload/fdtrack.h"
#include "preload/runtime.h"

#define BS_FDT_LIMIT (1u << 20) /* fds beyond are untracked (fail open) */

static struct bs_fdtab empty_table = { .n = 0, .words = { 0 } };
struct bs_fdtab *_Atomic bs_fdtab = &empty_table;

static struct {
	_Atomic uint64_t *bits;      /* one bit per entry: "maybe tracked" */
	_Atomic uint32_t high_water; /* 1 + highest fd ever tracked */
	bool holders;                /* the holder pool is mapped */
} g;

static bool is_holder(uint32_t v)
{
	return bs_fdt_owned(v) && !(v & BS_FDT_DIRECT);
}

static bool is_direct(uint32_t v)
{
	return bs_fdt_owned(v) && (v & BS_FDT_DIRECT);
}

static struct bs_fdtab *table(void)
{
	return atomic_load_explicit(&bs_fdtab, memory_order_acquire);
}

/* The slot an owned entry value holds. */
static uint32_t slot_of(uint32_t v)
{
	return is_direct(v) ? v & ~BS_FDT_DIRECT : atomic_load(&bs_holder_at(v)->slot);
}

/* Let go of an owned entry value taken out of the table; returns whether
 * the slot was given back (the last reference). */
static bool drop(uint32_t v)
{
	if (is_direct(v)) {
		bs_fdtrack_release_direct(v);
		return true;
	}
	return bs_holder_put(v);
}

void bs_fdtrack_put_holder(uint32_t id)
{
	bs_holder_put(id);
}

/* ---- entries ---------------------------------------------------------- */

static inline __attribute__((always_inline)) void note_tracked(uint32_t fd)
{
	const uint64_t bit = (uint64_t)1 << (fd % 64);
	/* A number tracked before (the common reuse) has its bit already.
	 * Sequentially consistent, after the entry's exchange: a walk that
	 * clears the bit then sees the entry and sets the bit again. */
	if (!(atomic_load(&g.bits[fd / 64]) & bit))
		atomic_fetch_or(&g.bits[fd / 64], bit);
	uint32_t hw = atomic_load(&g.high_water);
	while (hw < fd + 1 && !atomic_compare_exchange_weak(&g.high_water, &hw, fd + 1))
		;
}

/* Store a holder at fd. Whatever holder was there belonged to a socket
 * that is gone: the kernel handed this number out again, so the old one
 * was closed where backstop could not see it (fclose and the like). */
static inline __attribute__((always_inline)) void entry_set(struct bs_fdtab *t, uint32_t fd,
						       uint32_t id)
{
	uint32_t old = bs_fdt_entry_exchange(&t->words[fd], id);
	note_tracked(fd);
	if (old != BS_FDT_PRIVATE && (old & ~BS_FDT_CLOSING) != 0)
		drop(old & ~BS_FDT_CLOSING);
}

/* Call fn on every fd in [lo, hi] whose entry is nonzero, clearing hint
 * bits of entries found empty (and re-setting them if an entry appeared
 * meanwhile, so a bit is never wrongly clear). */
static void walk(unsigned lo, unsigned hi, void (*fn)(uint32_t fd, uint32_t v, void *ctx),
		 void *ctx)
{
	struct bs_fdtab *t = table();
	uint32_t end = atomic_load(&g.high_water); /* exclusive */
	if (t->n == 0 || lo >= end)
		return;
	if (hi >= end)
		hi = end - 1;
	for (uint32_t w = lo / 64; w <= hi / 64; w++) {
		uint64_t bits = atomic_load(&g.bits[w]);
		while (bits) {
			uint32_t fd = w * 64 + (uint32_t)__builtin_ctzll(bits);
			uint64_t bit = bits & -bits;
			bits &= bits - 1;
			if (fd < lo || fd > hi)
				continue;
			uint32_t v = bs_fdt_entry_load(&t->words[fd]);
			if (v == 0) {
				atomic_fetch_and(&g.bits[w], ~bit);
				if (bs_fdt_entry_load(&t->words[fd]) != 0)
					atomic_fetch_or(&g.bits[w], bit);
				continue;
			}
			fn(fd, v, ctx);
		}
	}
}

/* ---- set-up ----------------------------------------------------------- */

static uint32_t table_size(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return 1024;
	rlim_t n = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > BS_FDT_LIMIT
			   ? BS_FDT_LIMIT : rl.rlim_max;
	if (n < rl.rlim_cur && rl.rlim_cur <= BS_FDT_LIMIT)
		n = rl.rlim_cur;
	return n < 64 ? 64 : (uint32_t)n;
}

static void *map(size_t bytes)
{
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

static int move_log(void *ctx)
{
	return bs_log_move(ctx);
}

/* Every sink descriptor backstop opens is its own, at a high number
 * (engine/log.h); the guard keeps the standard streams the program's
 * should that ever change. */
static void protect_log(struct bs_runtime *rt)
{
	int fd = bs_log_fd(&rt->log);
	if (fd > 2)
		bs_fdtrack_protect(fd, move_log, &rt->log);
}

static void init_once(void)
{
	struct bs_runtime *rt = bs_runtime();
	if (rt == NULL)
		return;
	int saved = errno;
	uint32_t n = table_size();
	struct bs_fdtab *t = map(sizeof *t + ((size_t)n + 1) * sizeof t->words[0]);
	_Atomic uint64_t *bits = map(((size_t)n + 63) / 64 * sizeof *bits);
	/* Holders are needed only when something can hold a slot. */
	struct bs_holder *holders = rt->caps ? map((size_t)n * sizeof *holders) : NULL;
	if (t != NULL && bits != NULL) {
		t->n = n;
		t->caps = rt->caps;
		g.bits = bits;
		g.holders = holders != NULL;
		bs_holders_init(holders, n);
		atomic_store_explicit(&bs_fdtab, t, memory_order_release);
		protect_log(rt);
	}
	errno = saved;
}

static pthread_once_t init_control = PTHREAD_ONCE_INIT;
static _Atomic bool initialised;

static __attribute__((noinline)) void init_slow(void)
{
	/* Not ready while the runtime initialises; a later call will be. */
	if (bs_runtime() == NULL)
		return;
	pthread_once(&init_control, init_once);
	atomic_store_explicit(&initialised, true, memory_order_release);
}

void bs_fdtrack_flag(int fd, uint8_t bits, bool on)
{
	struct bs_fdtab *t = table();
	if ((uint32_t)fd >= t->n)
		return;
	uint64_t word_bits = (uint64_t)bits << 32;
	if (on)
		atomic_fetch_or(&t->words[fd], word_bits);
	else
		atomic_fetch_and(&t->words[fd], ~word_bits);
}

/* Inline here: every hold asks. */
static inline void init(void)
{
	if (__builtin_expect(!atomic_load_explicit(&initialised, memory_order_acquire), 0))
		init_slow();
}

void bs_fdtrack_init(void)
{
	init();
}

__attribute__((constructor)) static void fdtrack_constructor(void)
{
	bs_fdtrack_init();
}

/* ---- holding and releasing -------------------------------------------- */

/* Whether fd is still a connected socket whose peer counts under `key`:
 * how reclaim, run only when a key is full, tells a number closed behind
 * backstop's back from a live one (so holding a slot costs no system
 * call). A unix peer name is the listener's as bound, not necessarily the
 * path connected to: any connected unix socket counts. A raw system call:
 * reclaim looks at other threads' descriptors, which a sanitizer's
 * descriptor model would call a data race; the kernel answers either way. */
static bool still_counted(int fd, const struct bs_cap_key *key)
{
	struct sockaddr_storage peer;
	socklen_t len = sizeof peer;
	int saved = errno;
	bool connected = syscall(SYS_getpeername, fd, &peer, &len) == 0;
	errno = saved;
	struct bs_runtime *rt = bs_runtime();
	if (!connected || rt == NULL || peer.ss_family != key->family)
		return false;
	if (peer.ss_family == AF_UNIX)
		return true;
	struct bs_cap_key k;
	if (key->rule == BS_CAP_RULE_INBOUND)
		bs_cap_key_inbound(&k, rt->policy->accept.client_scope,
				   (const struct sockaddr *)&peer, len);
	else if (key->rule < rt->policy->n_rules)
		bs_cap_key_outbound(&k, &rt->policy->rules[key->rule],
				    (const struct sockaddr *)&peer, len);
	else
		return false;
	return memcmp(&k, key, sizeof k) == 0;
}

/* Whether entry value v records `slot` of `caps`. */
static bool holds(const struct bs_fdtab *t, uint32_t v, struct bs_caps *caps, uint32_t slot)
{
	if (is_direct(v))
		return caps == t->caps && (v & ~BS_FDT_DIRECT) == slot;
	return is_holder(v) && atomic_load(&bs_holder_at(v)->caps) == caps &&
	       atomic_load(&bs_holder_at(v)->slot) == slot;
}

void bs_fdtrack_hold(int fd, struct bs_caps *caps, uint32_t slot)
{
	if (slot == BS_CAP_NONE)
		return;
	init();
	struct bs_fdtab *t = table();
	uint32_t v = 0;
	if ((uint32_t)fd < t->n) {
		uint32_t cur = bs_fdt_entry_load(&t->words[fd]);
		/* A connect again on a socket holding a slot of this key (one
		 * completing an earlier nonblocking connect): one slot per
		 * socket; were it a number closed behind backstop's back and
		 * reconnected to the key, still one per live number. A record
		 * of another key is a closed socket's: entry_set drops it. */
		if (holds(t, cur, caps, slot))
			goto untracked;
		/* The slot in the entry itself until a dup shares it. */
		v = caps == t->caps ? BS_FDT_DIRECT | slot
		    : g.holders     ? bs_holder_new(caps, slot, 1) : 0;
	}
	if (v == 0)
		goto untracked;
	entry_set(t, (uint32_t)fd, v);
	return;
untracked:
	/* Nothing would ever give it back: fail open rather than leak. */
	{
		int saved = errno;
		bs_cap_release(caps, slot);
		errno = saved;
	}
}

void bs_fdtrack_restore(int fd, uint32_t taken)
{
	struct bs_fdtab *t = table();
	uint32_t empty = 0;
	if (taken != 0 &&
	    !bs_fdt_entry_cas(&t->words[fd], &empty, taken))
		drop(taken); /* something else took the number meanwhile */
}

/* A socket's first dup: its slot moves from the entry into a holder with
 * two references (the entry's and the new number's). A close or another
 * dup racing for the entry wins or loses the compare-and-swap as a whole.
 * Returns the holder, 0 (none free: the new number goes untracked), or
 * BS_FDT_PRIVATE when *v changed meanwhile (look again). */
static uint32_t share_direct(struct bs_fdtab *t, uint32_t fd, uint32_t *v)
{
	uint32_t id = g.holders ? bs_holder_new(t->caps, *v & ~BS_FDT_DIRECT, 2) : 0;
	if (id == 0)
		return 0;
	if (bs_fdt_entry_cas(&t->words[fd], v, id))
		return id;
	atomic_store(&bs_holder_at(id)->refs, 0);
	bs_holder_free(id);
	return BS_FDT_PRIVATE;
}

uint32_t bs_fdtrack_ref(int oldfd)
{
	struct bs_fdtab *t = table();
	if ((uint32_t)oldfd >= t->n)
		return 0;
	uint32_t v = bs_fdt_entry_load(&t->words[oldfd]);
	while (is_direct(v)) {
		uint32_t id = share_direct(t, (uint32_t)oldfd, &v);
		if (id != BS_FDT_PRIVATE)
			return id;
	}
	return is_holder(v) && bs_holder_get(v) ? v : 0;
}

void bs_fdtrack_adopt(int newfd, uint32_t ref)
{
	struct bs_fdtab *t = table();
	if (ref == 0)
		return;
	if ((uint32_t)newfd < t->n)
		entry_set(t, (uint32_t)newfd, ref);
	else
		bs_holder_put(ref); /* beyond the table: untracked */
}

/* ---- ranges ----------------------------------------------------------- */

static void mark_one(uint32_t fd, uint32_t v, void *ctx)
{
	(void)ctx;
	if (bs_fdt_owned(v))
		bs_fdt_entry_cas(&table()->words[fd], &v, v | BS_FDT_CLOSING);
}

static void settle_one(uint32_t fd, uint32_t v, void *ctx)
{
	bool closed = *(bool *)ctx;
	if (v == BS_FDT_PRIVATE || !(v & BS_FDT_CLOSING))
		return;
	uint32_t want = closed ? 0 : v & ~BS_FDT_CLOSING;
	if (bs_fdt_entry_cas(&table()->words[fd], &v, want) && closed)
		drop(v & ~BS_FDT_CLOSING);
}

void bs_fdtrack_mark_range(unsigned lo, unsigned hi)
{
	walk(lo, hi, mark_one, NULL);
}

void bs_fdtrack_settle_range(unsigned lo, unsigned hi, bool closed)
{
	walk(lo, hi, settle_one, &closed);
}

/* ---- stale entries ---------------------------------------------------- */

struct reclaim_ctx {
	uint32_t slot;
	struct bs_cap_key key;
	unsigned released;
};

static void reclaim_one(uint32_t fd, uint32_t v, void *ctx)
{
	struct reclaim_ctx *rc = ctx;
	if (!bs_fdt_owned(v) || slot_of(v) != rc->slot || still_counted((int)fd, &rc->key))
		return;
	if (bs_fdt_entry_cas(&table()->words[fd], &v, 0) && drop(v))
		rc->released++;
}

unsigned bs_fdtrack_reclaim(void *ctx, uint32_t slot)
{
	(void)ctx;
	struct bs_runtime *rt = bs_runtime();
	struct reclaim_ctx rc = { .slot = slot };
	if (rt == NULL || rt->caps == NULL || !bs_cap_key_of(rt->caps, slot, &rc.key))
		return 0;
	walk(0, UINT32_MAX, reclaim_one, &rc);
	return rc.released;
}

/* ---- fork -------------------------------------------------------------- */

/* In the child of a fork, single-threaded: the descriptors are the truth.
 * Every holder's references are recounted from the entries that name it
 * (a dup, close or close_range that a thread of the parent had in flight
 * never finishes here), a holder no entry names is freed without giving
 * its slot back (the slot belongs to a socket the child has no entry
 * for), and each cap count becomes the number of holders of its slot.
 * The caller zeroed the counts (bs_caps_after_fork_child). */
void bs_fdtrack_after_fork_child(struct bs_caps *caps)
{
	static uint32_t generation;
	struct bs_fdtab *t = table();
	uint32_t gen = ++generation;
	uint32_t end = atomic_load(&g.high_water);
	for (uint32_t fd = 0; fd < end && fd < t->n; fd++) {
		uint32_t v = bs_fdt_entry_load(&t->words[fd]);
		if (v == 0 || v == BS_FDT_PRIVATE)
			continue;
		v &= ~BS_FDT_CLOSING; /* its closer was a thread of the parent */
		bs_fdt_entry_exchange(&t->words[fd], v);
		if (is_direct(v)) {
			if (t->caps == caps)
				bs_caps_recount_add(caps, v & ~BS_FDT_DIRECT);
			continue;
		}
		struct bs_holder *h = bs_holder_at(v);
		if (h->fork_mark != gen) {
			h->fork_mark = gen;
			atomic_store(&h->refs, 0);
			if (atomic_load(&h->caps) == caps)
				bs_caps_recount_add(caps, atomic_load(&h->slot));
		}
		atomic_fetch_add(&h->refs, 1);
	}
	bs_holders_sweep(gen);
	bs_caps_recount_end(caps);
}
