/* bench_malloc_count.so: counts every malloc, calloc, realloc and
 * aligned allocation of the process; bench_loop --allocs reads the count
 * through bench_malloc_count(). Preloaded after libbackstop-preload.so, it sees
 * the library's allocations too (the library calls malloc through the
 * normal symbol lookup). dlsym itself may calloc before the real
 * functions are known: those few come from a static bootstrap buffer. */
#include <dlfcn.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

static atomic_long count;
static void *(*real_malloc)(size_t);
static void *(*real_calloc)(size_t, size_t);
static void *(*real_realloc)(void *, size_t);
static void (*real_free)(void *);
static int (*real_posix_memalign)(void **, size_t, size_t);

static _Alignas(16) char bootstrap[4096];
static size_t bootstrap_used;

__attribute__((visibility("default"))) long bench_malloc_count(void)
{
	return atomic_load(&count);
}

static int resolving;
static void resolve(void)
{
	if (real_malloc || resolving)
		return;
	resolving = 1;
	real_calloc = dlsym(RTLD_NEXT, "calloc");
	real_realloc = dlsym(RTLD_NEXT, "realloc");
	real_free = dlsym(RTLD_NEXT, "free");
	real_posix_memalign = dlsym(RTLD_NEXT, "posix_memalign");
	real_malloc = dlsym(RTLD_NEXT, "malloc");
	resolving = 0;
}

static void *bootstrap_alloc(size_t n)
{
	n = (n + 15) & ~(size_t)15;
	if (bootstrap_used + n > sizeof bootstrap)
		return NULL;
	void *p = bootstrap + bootstrap_used;
	bootstrap_used += n;
	return p;
}

static int from_bootstrap(const void *p)
{
	return (const char *)p >= bootstrap && (const char *)p < bootstrap + sizeof bootstrap;
}

__attribute__((visibility("default"))) void *malloc(size_t n)
{
	resolve();
	atomic_fetch_add(&count, 1);
	return real_malloc ? real_malloc(n) : bootstrap_alloc(n);
}

__attribute__((visibility("default"))) void *calloc(size_t k, size_t n)
{
	resolve();
	atomic_fetch_add(&count, 1);
	return real_calloc ? real_calloc(k, n) : bootstrap_alloc(k * n); /* static: zeroed */
}

__attribute__((visibility("default"))) void *realloc(void *p, size_t n)
{
	resolve();
	atomic_fetch_add(&count, 1);
	return real_realloc(p, n);
}

__attribute__((visibility("default"))) int posix_memalign(void **p, size_t align, size_t n)
{
	resolve();
	atomic_fetch_add(&count, 1);
	return real_posix_memalign(p, align, n);
}

__attribute__((visibility("default"))) void free(void *p)
{
	if (!p || from_bootstrap(p))
		return;
	resolve();
	real_free(p);
}
