/* The real libc functions behind the interposed ones, found with
 * dlsym(RTLD_NEXT) once and cached. BS_REAL(name) is usable before the
 * library's constructor has run, and from inside dlsym itself.
 *
 * A symbol this libc lacks (closefrom before glibc 2.34, ...) stays NULL:
 * BS_REAL then yields NULL, and the wrapper must fail with ENOSYS. */
#ifndef BS_REAL_H
#define BS_REAL_H

#include <netdb.h>
#include <stddef.h>
#include <sys/socket.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/uio.h>
#include <time.h>

/* Marks a function the library exports (everything else is hidden by
 * -fvisibility=hidden; preload/hooks.def lists the same names). */
#define BS_EXPORT __attribute__((visibility("default")))

struct bs_real {
#define BS_HOOK(ret, name, params) ret(*name) params;
#define BS_HOOK_OVER(name)
#define BS_HOOK_SELF(name)
#include "preload/hooks.def"
#undef BS_HOOK
#undef BS_HOOK_OVER
#undef BS_HOOK_SELF
};

/* Entries are written and read with relaxed atomics (a plain load on
 * x86-64 and arm64), so that racing first calls from several threads are
 * well defined: every writer stores the same value. */
extern struct bs_real bs_real __attribute__((visibility("hidden")));

/* Resolve every entry of bs_real. Idempotent, thread-safe and
 * re-entrant: a wrapper reached from inside dlsym sees NULL for entries
 * not yet resolved and must cope (see BS_REAL). */
void bs_real_resolve(void);

#define BS_REAL_LOAD(name) __atomic_load_n(&bs_real.name, __ATOMIC_RELAXED)
#define BS_REAL(name)                                              \
	(__builtin_expect(BS_REAL_LOAD(name) != NULL, 1)           \
		 ? BS_REAL_LOAD(name)                              \
		 : (bs_real_resolve(), BS_REAL_LOAD(name)))

#endif
