/* Holders: the shared record of a socket that holds a cap slot under more
 * than one number (dup'ed), with a reference count; the last reference
 * gives the slot back. Internal to preload/fdtrack.c; a socket never
 * dup'ed keeps its slot in its table entry instead (fdtrack.h). */
#ifndef BS_FDHOLDERS_H
#define BS_FDHOLDERS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "engine/caps.h"

struct bs_holder {
	_Atomic uint32_t refs;
	uint32_t fork_mark;         /* bs_fdtrack_after_fork_child's own */
	_Atomic uint32_t next_free; /* free-stack link: holder id, 0 = end */
	_Atomic uint32_t slot;
	struct bs_caps *_Atomic caps;
};

/* The pool: room for n holders, mapped by the caller (NULL: none). */
void bs_holders_init(struct bs_holder *pool, uint32_t n);
/* Holder id h (1-based). */
struct bs_holder *bs_holder_at(uint32_t id);
/* A free holder holding `slot` of `caps` with `refs` references, or 0. */
uint32_t bs_holder_new(struct bs_caps *caps, uint32_t slot, uint32_t refs);
/* Back to the free list without giving its slot back. */
void bs_holder_free(uint32_t id);
/* Drop one reference; the last one gives the slot back. Returns whether
 * it did. errno preserved. */
bool bs_holder_put(uint32_t id);
/* Take a reference on a live holder (refs > 0) only. */
bool bs_holder_get(uint32_t id);
/* After a fork: free every holder used so far whose fork_mark is not gen
 * (no entry of the child names it), without giving its slot back. */
void bs_holders_sweep(uint32_t gen);

#endif
