/* Which descriptors hold a cap slot, so that every slot is released
 * exactly once, through whatever path the socket is closed. A slot
 * belongs to the socket (open file description), not the fd number:
 * dup'ed numbers share it, and it is released when the last one closes.
 * Entries left behind by closes backstop cannot see are reclaimed when a
 * key is full: a number no longer connected to a peer of its slot's key
 * (getpeername) gives the slot back. O(1) per close, no allocation, no
 * system call to hold a slot.
 *
 * The same table marks backstop's private descriptors (the log), which
 * the program can neither close nor dup2 over. See docs/fd-tracking.md. */
#ifndef BS_FDTRACK_H
#define BS_FDTRACK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "engine/caps.h"

/* fd (a socket) now holds `slot` of `caps`. */
void bs_fdtrack_hold(int fd, struct bs_caps *caps, uint32_t slot);

/* Release slots held by descriptors that no longer refer to the socket
 * they were recorded with; usable as bs_cap_request.reclaim. */
unsigned bs_fdtrack_reclaim(void *ctx, uint32_t slot);

/* Set up the table and protect the log descriptor. Idempotent; run by
 * the library constructor, and again by the first hold if the runtime
 * was still initialising then. */
void bs_fdtrack_init(void);

/* Mark fd as private to backstop: close() of it fails with EBADF, and a
 * dup2/dup3 onto its number first calls move(ctx), which must move the
 * descriptor to another number and return that number (or -1). At most
 * a handful of private descriptors exist. */
void bs_fdtrack_protect(int fd, int (*move)(void *ctx), void *ctx);

/* --- used by the close and dup wrappers ------------------------------ */

/* Entry values: 0 = nothing, BS_FDT_PRIVATE, BS_FDT_DIRECT | a slot of
 * the table's caps (a socket never dup'ed: its close is one
 * compare-and-swap and the slot's release), else a holder id (1-based,
 * below 2^30: a socket dup'ed, fdholders.h); either possibly with
 * BS_FDT_CLOSING while a close_range is in flight. */
#define BS_FDT_PRIVATE UINT32_MAX
#define BS_FDT_CLOSING 0x80000000u
#define BS_FDT_DIRECT 0x40000000u

/* Whether entry value v records a socket's slot that a close may take. */
static inline bool bs_fdt_owned(uint32_t v)
{
	return v != 0 && !(v & BS_FDT_CLOSING); /* BS_FDT_PRIVATE has the bit */
}

/* Bits of a descriptor's flags byte: what other modules follow for the
 * number, so that close and dup look at one table for all of it. */
#define BS_FDF_EPREG 0x01 /* registered in an epoll set, or parked (epreg.h) */

/* words[0..n-1] describe fds 0..n-1, each an entry (low 32 bits) and a
 * flags byte (bits 32-39), so that close reads both with one load;
 * words[n] is a sentinel, whose entry is nonzero when some private fd lies
 * beyond the table (its flags stay 0). Published once. */
struct bs_fdtab {
	uint32_t n;
	struct bs_caps *caps; /* the runtime's: whose slots direct entries hold */
	_Atomic uint64_t words[];
};
extern struct bs_fdtab *_Atomic bs_fdtab __attribute__((visibility("hidden")));

#define BS_FDT_ENTRY(w) ((uint32_t)(w))
#define BS_FDT_FLAGS(w) ((uint8_t)((w) >> 32))
#define BS_FDT_FLAG_BITS (~(uint64_t)UINT32_MAX)

/* A word's entry, compared and swapped alone: false (and *expected set to
 * the entry found) if the entry is not *expected; flags changing meanwhile
 * only make it try again. */
static inline bool bs_fdt_entry_cas(_Atomic uint64_t *word, uint32_t *expected,
				    uint32_t desired)
{
	uint64_t w = atomic_load_explicit(word, memory_order_relaxed);
	for (;;) {
		if (BS_FDT_ENTRY(w) != *expected) {
			*expected = BS_FDT_ENTRY(w);
			return false;
		}
		if (atomic_compare_exchange_weak(word, &w, (w & BS_FDT_FLAG_BITS) | desired))
			return true;
	}
}

/* Replace a word's entry, keeping its flags; returns the entry before. */
static inline uint32_t bs_fdt_entry_exchange(_Atomic uint64_t *word, uint32_t desired)
{
	uint64_t w = atomic_load_explicit(word, memory_order_relaxed);
	while (!atomic_compare_exchange_weak(word, &w, (w & BS_FDT_FLAG_BITS) | desired))
		;
	return BS_FDT_ENTRY(w);
}

static inline uint32_t bs_fdt_entry_load(_Atomic uint64_t *word)
{
	return BS_FDT_ENTRY(atomic_load_explicit(word, memory_order_relaxed));
}

/* Set or clear bits of fd's flags byte (fd below the table's n). */
void bs_fdtrack_flag(int fd, uint8_t bits, bool on);

/* The fast-path test: whether fd needs the slow path (it holds a slot, is
 * private, or lies beyond the table while a private fd does too). One
 * branch; the bound check is a conditional move onto the sentinel. */
static inline bool bs_fdtrack_watched(int fd)
{
	const struct bs_fdtab *t = atomic_load_explicit(&bs_fdtab, memory_order_acquire);
	uint32_t i = (uint32_t)fd < t->n ? (uint32_t)fd : t->n;
	return __builtin_expect(
		BS_FDT_ENTRY(atomic_load_explicit(&t->words[i], memory_order_relaxed)) != 0, 0);
}

/* fd's flags byte (0 beyond the table). */
static inline uint8_t bs_fdtrack_flags(int fd)
{
	const struct bs_fdtab *t = atomic_load_explicit(&bs_fdtab, memory_order_acquire);
	uint32_t i = (uint32_t)fd < t->n ? (uint32_t)fd : t->n;
	return BS_FDT_FLAGS(atomic_load_explicit(&t->words[i], memory_order_relaxed));
}

/* Whether fd is one of backstop's private descriptors. Only the program
 * asks: backstop's own calls on them are raw system calls (engine/sys.h). */
bool bs_fdtrack_is_private(int fd);

/* If fd is private, move it elsewhere so the program may take its
 * number (dup2/dup3 target). errno preserved. */
void bs_fdtrack_vacate(int fd);

/* Forget fd's entry before the program closes it; returns what was
 * recorded (an owned entry value or 0) to pass to bs_fdtrack_put
 * afterwards, so that the slot is given back only once the descriptor is
 * really gone. Inline, as bs_fdtrack_put: the close of a capped socket. */
static inline uint32_t bs_fdtrack_take(int fd)
{
	struct bs_fdtab *t = atomic_load_explicit(&bs_fdtab, memory_order_acquire);
	if ((uint32_t)fd >= t->n)
		return 0;
	uint32_t v = bs_fdt_entry_load(&t->words[fd]);
	while (bs_fdt_owned(v) && !bs_fdt_entry_cas(&t->words[fd], &v, 0))
		;
	return bs_fdt_owned(v) ? v : 0;
}
/* Put a taken entry back (the close or dup2 did not happen). */
void bs_fdtrack_restore(int fd, uint32_t taken);
void bs_fdtrack_put_holder(uint32_t id);
/* Give back the slot of a direct entry value. errno preserved. */
static inline void bs_fdtrack_release_direct(uint32_t v)
{
	bs_cap_release(atomic_load_explicit(&bs_fdtab, memory_order_relaxed)->caps,
		       v & ~BS_FDT_DIRECT);
}
/* The same, then returns result (bs_cap_release_passing). */
static inline int bs_fdtrack_release_direct_passing(uint32_t v, int result)
{
	return bs_cap_release_passing(atomic_load_explicit(&bs_fdtab, memory_order_relaxed)->caps,
				      v & ~BS_FDT_DIRECT, result);
}
/* Drop the reference a taken entry held; the last one releases the slot. */
static inline void bs_fdtrack_put(uint32_t taken)
{
	if (taken & BS_FDT_DIRECT)
		bs_fdtrack_release_direct(taken);
	else if (taken != 0)
		bs_fdtrack_put_holder(taken);
}

/* A new number newfd refers to the same socket as oldfd (dup family,
 * after the real call succeeded): share oldfd's slot, if any. `ref` comes
 * from bs_fdtrack_ref(oldfd) taken before the real call: a holder (a
 * direct entry becomes one there), released with bs_fdtrack_put. */
uint32_t bs_fdtrack_ref(int oldfd);
void bs_fdtrack_adopt(int newfd, uint32_t ref);

/* close_range/closefrom over [lo, hi]: bs_fdtrack_mark_range before the
 * real call, then bs_fdtrack_settle_range(lo, hi, closed) after it:
 * releases what was marked if the descriptors were closed, else unmarks.
 * Only tracked descriptors are visited, not every number. */
void bs_fdtrack_mark_range(unsigned lo, unsigned hi);
void bs_fdtrack_settle_range(unsigned lo, unsigned hi, bool closed);

/* In a forked child, after bs_caps_after_fork_child(caps): rebuild the
 * references and the cap counts from the descriptors the child has. */
void bs_fdtrack_after_fork_child(struct bs_caps *caps);

/* Private fds in [lo, hi], ascending; returns how many (at most cap). */
#define BS_FDT_MAX_PRIVATE 4
unsigned bs_fdtrack_private_in(unsigned lo, unsigned hi, int *out, unsigned cap);

#endif
