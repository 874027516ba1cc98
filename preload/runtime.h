/* The preload's process-wide state: the loaded policy, the log sink, the
 * cap table, and per-thread random state. Initialised once, by the
 * library constructor (or by the first wrapper called before it). */
#ifndef BS_RUNTIME_H
#define BS_RUNTIME_H

#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>

#include "engine/caps.h"
#include "engine/guardtab.h"
#include "engine/mcaps.h"
#include "engine/log.h"
#include "policy/policy.h"
#include "engine/rng.h"
#include "engine/sleepadj.h"

struct bs_runtime {
	struct bs_policy *policy;
	struct bs_log log;
	struct bs_caps *caps; /* NULL when no cap is configured anywhere */
	/* Budgets and breakers: this process's (NULL when no rule has one),
	 * and the machine's in the state file (NULL when off or unusable). */
	struct bs_guard_table *guards;
	struct bs_guard_table *machine_guards;
	struct bs_mcap_table *machine_caps; /* max_conns of share = machine rules */
	/* The first attempt's bound when the policy is one rule with no cap,
	 * io_timeout, budget, breaker or rule by name (the built-in default):
	 * a connect then needs no rule lookup. 0 otherwise. */
	bs_ns plain_bound;
};

/* The table a rule's budget and breaker live in, and its name for the
 * log. A rule with share = machine counts per process when the state
 * file could not be used (state.error said so at start). */
static inline struct bs_guard_table *bs_guard_table_of(const struct bs_runtime *rt,
						       const struct bs_rule *rule,
						       const char **share)
{
	if (rule->share == BS_SHARE_MACHINE && rt->machine_guards != NULL) {
		*share = "machine";
		return rt->machine_guards;
	}
	*share = "process";
	return rt->guards;
}

/* The runtime, or NULL while it is being initialised (a wrapper called
 * from inside initialisation must pass straight through). Inline: every
 * wrapper's first step. */
extern struct bs_runtime *_Atomic bs_runtime_ready __attribute__((visibility("hidden")));
struct bs_runtime *bs_runtime_initialise(void);
static inline struct bs_runtime *bs_runtime(void)
{
	struct bs_runtime *rt = atomic_load_explicit(&bs_runtime_ready, memory_order_acquire);
	if (__builtin_expect(rt != NULL, 1))
		return rt;
	return bs_runtime_initialise();
}

/* Whether this code runs in a child that shares the parent's memory
 * (vfork, clone with CLONE_VM): no pthread_atfork handler ran there, and
 * what it changes in backstop's tables would change the parent's. The
 * close and dup wrappers then only make the real call: the child's
 * descriptor table is its own, the slots are the parent's. One load while
 * no such child can exist (preload/sharedchild.c); a getpid system call
 * otherwise. */
extern _Atomic unsigned long bs_vm_children __attribute__((visibility("hidden")));
bool bs_shared_child_ask(void);
static inline bool bs_shared_child(void)
{
	return __builtin_expect(
		       atomic_load_explicit(&bs_vm_children, memory_order_relaxed) != 0, 0) &&
	       bs_shared_child_ask();
}
/* In a forked child (its memory is its own): nothing shares it. */
void bs_vm_children_after_fork(void);

/* Whether the program's [p, p+len) can be read, as the kernel would judge
 * it (a bad address is EFAULT there, a crash here). false for len > 256:
 * only the kernel may take such an address (and refuses it). The kernel
 * is asked (process_vm_readv from this process) once per page: the page
 * of the latest readable range is remembered per thread, so a program
 * that connects from the same stack frame or buffer pays one system call
 * per thread, not per connect. (A page found readable and unmapped since
 * would still be read: only a dangling pointer into memory the program
 * itself unmapped gets there.) */
#define BS_PROBE_MAX 256 /* longer addresses are the kernel's to refuse (EINVAL) */
#define BS_PAGE_OF(a) ((a) & ~(uintptr_t)4095)
extern __thread uintptr_t bs_readable_page __attribute__((tls_model("initial-exec")));
bool bs_readable_probe(const void *p, size_t len);
/* Whether [p, p+len) lies in the page this thread last found readable
 * (0 until one was, and page 0 never is): bs_readable without a call. */
static inline bool bs_readable_known(const void *p, size_t len)
{
	uintptr_t a = (uintptr_t)p, page = BS_PAGE_OF(a);
	return page == bs_readable_page && page != 0 && len - 1 < BS_PROBE_MAX &&
	       BS_PAGE_OF(a + len - 1) == page;
}
static inline bool bs_readable(const void *p, size_t len)
{
	return __builtin_expect(bs_readable_known(p, len), 1) || bs_readable_probe(p, len);
}

/* This thread's generator, seeded on first use (from BACKSTOP_SEED and a
 * thread ordinal when a seed is set, else from the kernel). */
struct bs_rng *bs_thread_rng(void);

/* CLOCK_MONOTONIC in ns. */
static inline bs_ns bs_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (bs_ns)ts.tv_sec * BS_SEC + (bs_ns)ts.tv_nsec;
}

/* A duration as the timespec the sleep and poll calls take. */
static inline struct timespec bs_timespec(bs_ns ns)
{
	return (struct timespec){ .tv_sec = (time_t)(ns / BS_SEC),
				  .tv_nsec = (long)(ns % BS_SEC) };
}

/* The pause between retries, for bs_retry_io (any ctx): 0, or EINTR when
 * a handler without SA_RESTART interrupted it. Implemented in
 * preload/pause.c, which documents why it is a futex wait with no
 * timeout that the watchdog ends. */
int bs_pause_io(void *ctx, bs_ns delay);

/* How this thread's latest managed connect ended (0 or the errno the
 * program saw), so that a sleep right after a failure is known as a retry
 * sleep. Called by the connect wrapper; implemented in preload/sleep.c. A
 * success after a success changes nothing and costs no call. */
extern __thread struct bs_sleep_state bs_thread_sleep __attribute__((tls_model("initial-exec")));
void bs_sleep_note_outcome(int err);
static inline void bs_sleep_note_connect(int err)
{
	/* last_fail_at is set with every failure and cleared with the streak. */
	if (err != 0 || bs_thread_sleep.last_fail_at != 0)
		bs_sleep_note_outcome(err);
}

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
