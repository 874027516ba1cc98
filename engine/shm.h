/* The machine-wide state file ([global] state = PATH): what processes of
 * one machine share, mapped by every process whose policy has a rule
 * with share = machine, and read by `backstop state`.
 *
 * The file is created 0600 by the first process, and refused (as a policy
 * file would be) when it is a symbolic link, not a regular file, owned by
 * another user or readable or writable by group or others: whoever can
 * write it steers every process using it. Its layout is versioned: a
 * file of another version or kind is an error naming what it holds,
 * never misread. Everything in it is lock-free atomics whose all-zero
 * value is "empty", so creating it is just extending it with zeros, and a
 * process killed at any instruction leaves no lock held. The mapping is
 * inherited across fork; after exec the new program maps it again. */
#ifndef BS_SHM_H
#define BS_SHM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/guardtab.h"
#include "engine/mcaps.h"

#define BS_SHM_MAGIC "BSSTATE"
#define BS_SHM_VERSION 2u /* 2: breakers count their holds; each cap waiter has its own futex word */

struct bs_shm_header {
	char magic[8];               /* BS_SHM_MAGIC, NUL-padded */
	_Atomic uint32_t version;    /* 0 while being created */
	uint32_t header_size;        /* sizeof(struct bs_shm_header) */
	uint64_t size;               /* sizeof(struct bs_shm_layout) */
};

struct bs_shm_layout {
	struct bs_shm_header header;
	struct bs_guard_table guards;
	struct bs_mcap_table caps;
};

struct bs_shm {
	struct bs_shm_layout *map; /* NULL: not mapped */
};

/* Map the state file at path. create: make it when missing (the preload);
 * otherwise it must exist (`backstop state`). writable: map it for
 * writing. Returns 0, or -1 with "PATH: WHAT" in err. Uses no symbol the
 * preload interposes. */
int bs_shm_open(struct bs_shm *shm, const char *path, bool create, bool writable,
		char *err, size_t cap);
void bs_shm_close(struct bs_shm *shm);

/* Forget every count and circuit (`backstop state --reset`); the entries
 * keep their names. Safe while processes use the file. */
void bs_shm_reset(struct bs_shm *shm);

#endif
