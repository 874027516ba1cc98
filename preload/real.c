/* dlsym(RTLD_NEXT) lookups of the functions backstop wraps. */
#include "preload/real.h"

#include <dlfcn.h>
#include <stdbool.h>

struct bs_real bs_real;

/* Set once every lookup has been made, so a symbol that is missing from
 * this libc does not cost a dlsym per call. */
static bool resolved;

#define RESOLVE(name)                                                       \
	__atomic_store_n(&bs_real.name,                                     \
			 (__typeof__(bs_real.name))dlsym(RTLD_NEXT, #name), \
			 __ATOMIC_RELAXED)

void bs_real_resolve(void)
{
	if (__atomic_load_n(&resolved, __ATOMIC_ACQUIRE))
		return;
	/* No lock: concurrent or nested callers all store the same values,
	 * and a nested caller (a wrapper reached from inside dlsym) simply
	 * sees the entries resolved so far. */
#define BS_HOOK(ret, name, params) RESOLVE(name);
#define BS_HOOK_OVER(name)
#define BS_HOOK_SELF(name)
#include "preload/hooks.def"
#undef BS_HOOK
#undef BS_HOOK_OVER
#undef BS_HOOK_SELF
	__atomic_store_n(&resolved, true, __ATOMIC_RELEASE);
}
