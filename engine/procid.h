/* Which process holds something in the machine-wide state, in a form that
 * survives pid reuse: the pid and the low bits of its start time (field
 * 22 of /proc/PID/stat, clock ticks since boot), packed in 48 bits. A
 * process that died, or whose pid now belongs to a younger process, is
 * not alive. */
#ifndef BS_PROCID_H
#define BS_PROCID_H

#include <stdbool.h>
#include <stdint.h>

#define BS_PROCID_BITS 48

/* This process's id (recomputed after a fork). Never 0. */
uint64_t bs_procid_self(void);

/* Whether the process with this id still runs. */
bool bs_procid_alive(uint64_t id);

#endif
