/* Which descriptors hold a cap slot, so that every slot is released
 * exactly once, through whatever path the socket is closed. A slot
 * belongs to the socket (open file description), not the fd number:
 * dup'ed numbers share it, and it is released when the last one closes.
 * Entries left behind by closes backstop cannot see are detected by the
 * socket's inode and reclaimed. O(1) per close, no allocation. */
#ifndef BS_FDTRACK_H
#define BS_FDTRACK_H

#include <stdint.h>

#include "policy/caps.h"

/* fd (a socket) now holds `slot` of `caps`. */
void bs_fdtrack_hold(int fd, struct bs_caps *caps, uint32_t slot);

/* Release slots held by descriptors that no longer refer to the socket
 * they were recorded with; usable as bs_cap_request.reclaim. */
unsigned bs_fdtrack_reclaim(void *ctx, uint32_t slot);

#endif
