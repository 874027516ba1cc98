/* The preload's process-wide state: the loaded policy, the log sink, the
 * cap table, and per-thread random state. Initialised once, by the
 * library constructor (or by the first wrapper called before it). */
#ifndef BS_RUNTIME_H
#define BS_RUNTIME_H

#include <stdbool.h>
#include <time.h>

#include "engine/caps.h"
#include "engine/log.h"
#include "policy/policy.h"
#include "engine/rng.h"

struct bs_runtime {
	struct bs_policy *policy;
	struct bs_log log;
	struct bs_caps *caps; /* NULL when no cap is configured anywhere */
};

/* The runtime, or NULL while it is being initialised (a wrapper called
 * from inside initialisation must pass straight through). */
struct bs_runtime *bs_runtime(void);

/* This thread's generator, seeded on first use (from BACKSTOP_SEED and a
 * thread ordinal when a seed is set, else from the kernel). */
struct bs_rng *bs_thread_rng(void);

/* CLOCK_MONOTONIC in ns. */
bs_ns bs_now(void);

/* A duration as the timespec the sleep and poll calls take. */
static inline struct timespec bs_timespec(bs_ns ns)
{
	return (struct timespec){ .tv_sec = (time_t)(ns / BS_SEC),
				  .tv_nsec = (long)(ns % BS_SEC) };
}

/* How this thread's latest managed connect ended (0 or the errno the
 * program saw), so that a sleep right after a failure is known as a retry
 * sleep. Called by the connect wrapper; implemented in preload/sleep.c. */
void bs_sleep_note_connect(int err);

/* Whether a relative sleep of `req` is to be changed under the [sleep]
 * policy, and to what (*out), logging sleep.adjust when it is; errno
 * preserved. For calls that are sleeps without saying so (a select or
 * poll with no descriptors). Implemented in preload/sleep.c. */
bool bs_sleep_adjusted(const struct timespec *req, struct timespec *out);

/* Put io_timeout on a connected or accepted blocking socket
 * (SO_RCVTIMEO/SO_SNDTIMEO, TCP_USER_TIMEOUT for TCP), unless the program
 * already set a timeout of its own. Implemented in preload/iotimeout.c. */
void bs_apply_io_timeout(int fd, bs_ns timeout);

#endif
