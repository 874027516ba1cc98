/* The preload's process-wide state (see runtime.h): loaded once by the
 * library constructor, or by the first wrapper that runs before it (a
 * wrapper called from another library's constructor).
 *
 * A policy that cannot be loaded stops the program with status 78
 * (EX_CONFIG) after saying why on stderr: a program the operator meant to
 * protect must never run silently unprotected or on a guessed default. */
#include "preload/runtime.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "preload/fdtrack.h"
#include "engine/shm.h"
#include "preload/outbound.h"
#include "preload/outcap.h"
#include "preload/real.h"
#include "preload/wrap.h"

#define EXIT_POLICY_ERROR 78 /* EX_CONFIG from sysexits.h */
#define CAP_KEYS 4096        /* distinct destinations/clients counted at once */

extern char **environ;

static struct bs_runtime state;
static struct bs_shm machine; /* the state file, when a rule shares by machine */
/* &state once initialised; the only thing a wrapper's fast path loads. */
struct bs_runtime *_Atomic bs_runtime_ready;
static atomic_int init_started;

/* ---- per-thread random state ------------------------------------------ */

/* Streams derive from this when global.seed is set: the seed itself in the
 * first process, a value derived from it and the fork ordinal in children. */
static uint64_t seed_base;
static atomic_uint_fast64_t threads_seeded; /* thread ordinal source */
static atomic_uint_fast64_t forks;          /* fork ordinal source */
/* A thread's generator is stale when its generation differs: bumped in a
 * forked child so that every thread there reseeds on next use. */
static atomic_uint_fast64_t generation = 1;

struct thread_rng {
	struct bs_rng rng;
	uint64_t generation; /* 0: never seeded */
};
/* initial-exec: no __tls_get_addr, hence no allocation on first use. */
static __thread struct thread_rng thread_rng __attribute__((tls_model("initial-exec")));

/* Ordinals 2n seed threads, 2n+1 seed forked children, so the two kinds
 * of stream never coincide. */
static uint64_t thread_seed(void)
{
	if (state.policy->global.seed == 0)
		return bs_rng_kernel_seed();
	uint64_t ordinal = atomic_fetch_add(&threads_seeded, 1);
	return bs_rng_derive(seed_base, 2 * ordinal);
}

struct bs_rng *bs_thread_rng(void)
{
	uint64_t gen = atomic_load_explicit(&generation, memory_order_relaxed);
	if (__builtin_expect(thread_rng.generation != gen, 0)) {
		bs_rng_seed(&thread_rng.rng, thread_seed());
		thread_rng.generation = gen;
	}
	return &thread_rng.rng;
}

/* ---- fork -------------------------------------------------------------- */

static uint64_t fork_ordinal; /* the parent's count, as the child sees it */
/* The process whose memory this is: set at start-up and in every forked
 * child (atfork handlers run there, not in a vfork child). */
static pid_t owner_pid;

bool bs_shared_child_ask(void)
{
	return (pid_t)syscall(SYS_getpid) != owner_pid;
}

/* ---- pointers from the program ----------------------------------------- */

/* The page of the latest range found readable by this thread (runtime.h). */
__thread uintptr_t bs_readable_page __attribute__((tls_model("initial-exec")));

bool bs_readable_probe(const void *p, size_t len)
{
	uintptr_t a = (uintptr_t)p;
	if (len == 0 || len > BS_PROBE_MAX)
		return len == 0;
	if (a + len < a || a < 4096)
		return false;
	uintptr_t page = BS_PAGE_OF(a);
	if (page == bs_readable_page && BS_PAGE_OF(a + len - 1) == page)
		return true;
	int saved = errno;
	char copy[BS_PROBE_MAX];
	struct iovec local = { copy, len }, remote = { (void *)p, len };
	ssize_t n = process_vm_readv(owner_pid, &local, 1, &remote, 1, 0);
	/* ENOSYS, EPERM (a seccomp filter, a vfork child): cannot tell. */
	bool ok = n == (ssize_t)len || (n < 0 && errno != EFAULT);
	if (n == (ssize_t)len && BS_PAGE_OF(a + len - 1) == page)
		bs_readable_page = page;
	errno = saved;
	return ok;
}

/* Every lock backstop has is taken here (the cap table's is the only
 * one; fd tracking, the log and the rest are lock-free), so that no
 * thread is half-way through an update when memory is copied. */
static void before_fork(void)
{
	fork_ordinal = atomic_fetch_add(&forks, 1);
	bs_caps_fork_prepare(state.caps);
}

static void in_parent(void)
{
	bs_caps_fork_parent(state.caps);
}

/* The child has one thread and a copy of memory whose locks may be held by
 * threads that no longer exist; slots those threads held inside connect
 * have no owner here, so the counts are rebuilt from the descriptors. */
static void in_child(void)
{
	owner_pid = (pid_t)syscall(SYS_getpid);
	bs_vm_children_after_fork();
	if (state.caps != NULL) {
		bs_caps_after_fork_child(state.caps);
		bs_fdtrack_after_fork_child(state.caps);
	}
	seed_base = bs_rng_derive(seed_base, 2 * fork_ordinal + 1);
	atomic_store(&threads_seeded, 0);
	atomic_store(&forks, 0);
	atomic_fetch_add(&generation, 1);
}

/* ---- initialisation ---------------------------------------------------- */

static void say(const char *a, const char *b)
{
	/* stderr may be buffered or locked by the program: write directly. */
	if (write(STDERR_FILENO, a, strlen(a)) < 0 ||
	    write(STDERR_FILENO, b, strlen(b)) < 0 ||
	    write(STDERR_FILENO, "\n", 1) < 0)
		return;
}

/* The environment reduced to BACKSTOP_LOG (or nothing under secure
 * execution): enough to find where a policy.error line should go when the
 * policy itself could not be loaded. */
static char *const *log_only_env(bool secure, char *entry[2])
{
	entry[0] = entry[1] = NULL;
	for (char **e = environ; !secure && e != NULL && *e != NULL; e++)
		if (strncmp(*e, "BACKSTOP_LOG=", 13) == 0)
			entry[0] = *e;
	return entry;
}

/* Report a policy that cannot be used and stop the program. */
static _Noreturn void policy_failed(const char *what, const struct bs_error *err,
				    bool secure)
{
	say("backstop: error: ", err->msg);
	say("backstop: ", what);

	char *entry[2];
	struct bs_load_options opts = { .envp = log_only_env(secure, entry) };
	struct bs_policy *fallback = NULL;
	struct bs_error ignored;
	struct bs_log log;
	if (bs_policy_load(&opts, &fallback, &ignored) == 0 ||
	    bs_policy_builtin(&fallback, &ignored) == 0) {
		if (bs_log_open(&log, &fallback->global, program_invocation_short_name,
				&ignored) == 0) {
			struct bs_logline line;
			bs_line_begin(&line, &log, "policy.error");
			bs_line_str(&line, "error", err->msg);
			bs_line_emit(&line, &log);
		}
	}
	_exit(EXIT_POLICY_ERROR);
}

static void log_loaded(void)
{
	/* Every child of a preloaded shell loads the policy: say nothing when
	 * nothing was configured. */
	if (strcmp(state.policy->source, "built-in") == 0)
		return;
	struct bs_logline line;
	bs_line_begin(&line, &state.log, "policy.loaded");
	bs_line_str(&line, "source", state.policy->source);
	bs_line_int(&line, "rules", (int64_t)state.policy->n_rules);
	bs_line_emit(&line, &state.log);
}

/* A relative BACKSTOP_POLICY was resolved against the working directory
 * at load (policy/load.c): children inherit the absolute path instead, so
 * one started from another directory reads the same file. This runs in
 * the library constructor, before main and before any thread. The entry
 * is replaced in environ itself, as glibc's setenv does for a variable
 * that exists: not through setenv, which a program may define for itself
 * (bash does, over its own variable table, not yet built at this point). */
static void hand_on_policy_path(bool secure)
{
	static const char name[] = "BACKSTOP_POLICY=";
	const char *file = bs_policy_file(state.policy);
	if (secure || file == NULL || *file != '/')
		return;
	for (char **e = environ; e != NULL && *e != NULL; e++) {
		if (strncmp(*e, name, sizeof name - 1) != 0)
			continue;
		if ((*e)[sizeof name - 1] == '/' || (*e)[sizeof name - 1] == '\0')
			return;
		size_t n = strlen(file) + 1;
		char *entry = malloc(sizeof name - 1 + n); /* lives as long as environ */
		if (entry != NULL) {
			memcpy(entry, name, sizeof name - 1);
			memcpy(entry + sizeof name - 1, file, n);
			*e = entry;
		}
		return;
	}
}

/* Budgets and breakers cost nothing unless a rule asks for one. The
 * process table is there even for share = machine rules: they fall back
 * to it when the state file cannot be used. */
static void open_guards(void)
{
	bool any = false;
	for (size_t r = 0; r < state.policy->n_rules; r++)
		any |= bs_rule_guarded(&state.policy->rules[r]);
	if (any)
		state.guards = calloc(1, sizeof *state.guards);
	const char *path = state.policy->global.state_path;
	if (!state.policy->any_machine || path == NULL)
		return;
	char why[512];
	if (bs_shm_open(&machine, path, true, true, why, sizeof why) == 0) {
		state.machine_guards = &machine.map->guards;
		if (state.caps != NULL) {
			state.machine_caps = &machine.map->caps;
			bs_caps_on_release(state.caps, bs_outcap_released, &state);
		}
		return;
	}
	/* Counted per process instead: a bad state file must not stop every
	 * program that uses it. */
	struct bs_logline line;
	bs_line_begin(&line, &state.log, "state.error");
	bs_line_str(&line, "path", path);
	bs_line_str(&line, "error", why);
	bs_line_str(&line, "share", "process");
	bs_line_emit(&line, &state.log);
}

static void initialise(void)
{
	bs_real_resolve();
	const bool secure = getauxval(AT_SECURE) != 0;
	struct bs_load_options opts = { .envp = environ, .secure = secure };
	struct bs_error err;
	if (bs_policy_load(&opts, &state.policy, &err) != 0)
		policy_failed("the policy could not be loaded; exiting with status 78",
			      &err, secure);
	if (bs_log_open(&state.log, &state.policy->global,
			program_invocation_short_name, &err) != 0)
		policy_failed("the log could not be opened; exiting with status 78",
			      &err, secure);
	log_loaded();
	hand_on_policy_path(secure);

	if (state.policy->any_caps || state.policy->accept.max_per_client > 0)
		state.caps = bs_caps_create(CAP_KEYS);
	open_guards();
	state.plain_bound = bs_outbound_plain_bound(state.policy);
	seed_base = state.policy->global.seed;
	owner_pid = (pid_t)syscall(SYS_getpid);
	pthread_atfork(before_fork, in_parent, in_child);
	if (state.policy->n_wraps > 1)
		bs_wrap_install(&state);
	atomic_store_explicit(&bs_runtime_ready, &state, memory_order_release);
}

/* Runs initialise() exactly once; every other caller, including one
 * nested inside initialise() itself, gets NULL and passes through. */
struct bs_runtime *bs_runtime_initialise(void)
{
	int expected = 0;
	if (!atomic_compare_exchange_strong(&init_started, &expected, 1))
		return atomic_load_explicit(&bs_runtime_ready, memory_order_acquire);
	int saved = errno;
	initialise();
	errno = saved;
	return &state;
}

__attribute__((constructor)) static void backstop_init(void)
{
	bs_runtime();
}
