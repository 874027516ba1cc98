/* dlopen and dlsym for declared wrappers (entry points: wrapdl_stub.S).
 *
 * With no wrapper declared both go straight to libc's (the chooser is one
 * flag check). With wrappers:
 *  - dlopen: the object is opened as the caller would have opened it, then
 *    the new objects' GOT slots are redirected (bs_wrap_refresh);
 *  - dlsym(handle, SYMBOL) of a wrapped symbol that finds its definition
 *    returns the wrapper; every other lookup, and every RTLD_NEXT lookup,
 *    is libc's own, made with the program's return address.
 *
 * A dlopen made from C here has this library as its caller, so glibc would
 * search this library's (empty) RPATH/RUNPATH instead of the caller's. For
 * a bare file name the search the caller would have got is done here
 * first (docs/wrap.md): the caller's DT_RPATH (when it has no DT_RUNPATH)
 * and the executable's, then LD_LIBRARY_PATH and the caller's DT_RUNPATH,
 * $ORIGIN expanded; what is not found there goes to libc's search (the
 * cache and the default directories). */
#include <dlfcn.h>
#include <elf.h>
#include <limits.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

#include "preload/wrap.h"

typedef void *(*dlopen_fn)(const char *, int);
typedef void *(*dlsym_fn)(void *, const char *);

static dlopen_fn libc_dlopen;
static dlsym_fn libc_dlsym;
static bool wrappers_active;

/* The choosers run inside a sanitizer runtime's own start-up (it resolves
 * its interceptors with dlsym before its shadow memory exists), so they and
 * what they call must not be instrumented. */
#define UNINSTRUMENTED __attribute__((no_sanitize("address", "undefined", "thread")))

void bs_wrapdl_activate(void)
{
	__atomic_store_n(&wrappers_active, true, __ATOMIC_RELEASE);
}

/* dlvsym(RTLD_NEXT) from here: the definitions after this library. A
 * plain dlsym would find this library's own. */
UNINSTRUMENTED static void *next_versioned(const char *name)
{
	static const char *const versions[] = { "GLIBC_2.34", "GLIBC_2.2.5", "GLIBC_2.17" };
	for (size_t i = 0; i < sizeof versions / sizeof versions[0]; i++) {
		void *f = dlvsym(RTLD_NEXT, name, versions[i]);
		if (f != NULL)
			return f;
	}
	static const char msg[] = "backstop: cannot find libc's dlopen/dlsym\n";
	if (write(STDERR_FILENO, msg, sizeof msg - 1) < 0)
		_exit(127);
	_exit(127);
}

UNINSTRUMENTED static void resolve_libc(void)
{
	if (__atomic_load_n(&libc_dlsym, __ATOMIC_ACQUIRE) != NULL)
		return;
	__atomic_store_n(&libc_dlopen, (dlopen_fn)next_versioned("dlopen"), __ATOMIC_RELAXED);
	__atomic_store_n(&libc_dlsym, (dlsym_fn)next_versioned("dlsym"), __ATOMIC_RELEASE);
}

/* ---- dlopen as the caller --------------------------------------------- */

static const ElfW(Dyn) *dyn_entry(const struct link_map *lm, ElfW(Sxword) tag)
{
	for (const ElfW(Dyn) *d = lm->l_ld; d != NULL && d->d_tag != DT_NULL; d++)
		if (d->d_tag == tag)
			return d;
	return NULL;
}

/* A search path entry (DT_RPATH/DT_RUNPATH) of lm, or NULL. */
static const char *search_path(const struct link_map *lm, ElfW(Sxword) tag)
{
	const ElfW(Dyn) *path = dyn_entry(lm, tag), *str = dyn_entry(lm, DT_STRTAB);
	if (path == NULL || str == NULL)
		return NULL;
	ElfW(Addr) strtab = str->d_un.d_ptr;
	if (strtab < lm->l_addr)
		strtab += lm->l_addr; /* not rebased in place (see wrapgot.c) */
	return (const char *)strtab + path->d_un.d_val;
}

/* The directory of lm's file ("" for the executable: /proc/self/exe). */
static void origin_of(const struct link_map *lm, char *buf, size_t cap)
{
	ssize_t n = 0;
	if (lm->l_name[0] != '\0')
		n = (ssize_t)snprintf(buf, cap, "%s", lm->l_name);
	else if ((n = readlink("/proc/self/exe", buf, cap - 1)) < 0)
		n = 0;
	buf[(size_t)n < cap ? (size_t)n : cap - 1] = '\0';
	char *slash = strrchr(buf, '/');
	if (slash != NULL)
		*slash = '\0';
	else
		snprintf(buf, cap, ".");
}

/* Try FILE in every directory of a ':'-separated list; $ORIGIN and
 * ${ORIGIN} are lm's directory; entries with other substitutions are
 * skipped. */
static void *open_in(const char *list, const struct link_map *lm, const char *file,
		     int mode)
{
	char origin[PATH_MAX], path[PATH_MAX];
	origin[0] = '\0';
	for (const char *p = list; p != NULL && *p != '\0';) {
		size_t len = strcspn(p, ":");
		char dir[PATH_MAX];
		snprintf(dir, sizeof dir, "%.*s", (int)len, p);
		p += len + (p[len] == ':');
		const char *rest = NULL;
		if (strncmp(dir, "$ORIGIN", 7) == 0)
			rest = dir + 7;
		else if (strncmp(dir, "${ORIGIN}", 9) == 0)
			rest = dir + 9;
		if (rest != NULL && origin[0] == '\0')
			origin_of(lm, origin, sizeof origin);
		if (strchr(rest ? rest : dir, '$') != NULL)
			continue;
		int n = rest ? snprintf(path, sizeof path, "%s%s/%s", origin, rest, file)
			     : snprintf(path, sizeof path, "%s/%s", dir[0] ? dir : ".", file);
		if (n <= 0 || (size_t)n >= sizeof path || access(path, F_OK) != 0)
			continue;
		void *h = libc_dlopen(path, mode);
		if (h != NULL)
			return h;
	}
	return NULL;
}

static void *open_as_caller(const char *file, int mode, const void *caller)
{
	Dl_info info;
	struct link_map *lm = NULL;
	if (file == NULL || strchr(file, '/') != NULL || getauxval(AT_SECURE) ||
	    dladdr1(caller, &info, (void **)&lm, RTLD_DL_LINKMAP) == 0 || lm == NULL)
		return libc_dlopen(file, mode);
	void *h = libc_dlopen(file, mode | RTLD_NOLOAD);
	if (h != NULL)
		return h;
	const char *runpath = search_path(lm, DT_RUNPATH);
	struct link_map *exe = lm;
	while (exe->l_prev != NULL)
		exe = exe->l_prev;
	if (runpath == NULL) {
		h = open_in(search_path(lm, DT_RPATH), lm, file, mode);
		if (h == NULL && exe != lm && search_path(exe, DT_RUNPATH) == NULL)
			h = open_in(search_path(exe, DT_RPATH), exe, file, mode);
	} else {
		h = open_in(getenv("LD_LIBRARY_PATH"), lm, file, mode);
		if (h == NULL)
			h = open_in(runpath, lm, file, mode);
	}
	return h != NULL ? h : libc_dlopen(file, mode);
}

/* Reached from the stub by a jump: __builtin_return_address(0) is the
 * program's call site. */
static void *managed_dlopen(const char *file, int mode)
{
	void *h = open_as_caller(file, mode, __builtin_return_address(0));
	if (h != NULL)
		bs_wrap_refresh();
	return h;
}

/* ---- dlsym -------------------------------------------------------------- */

static void *managed_dlsym(void *handle, const char *name)
{
	void *sym = libc_dlsym(handle, name);
	if (sym == NULL && handle == RTLD_DEFAULT) {
		/* From the caller, RTLD_DEFAULT also sees its own dependencies
		 * (an object opened RTLD_LOCAL): look there too. */
		Dl_info info;
		struct link_map *lm = NULL;
		if (dladdr1(__builtin_return_address(0), &info, (void **)&lm,
			    RTLD_DL_LINKMAP) != 0 && lm != NULL)
			sym = libc_dlsym(lm, name);
	}
	return sym != NULL ? bs_wrap_for(name, sym) : NULL;
}

/* ---- the choosers the stubs call ------------------------------------- */

void *bs_dlopen_choose(void);
void *bs_dlsym_choose(void *handle, const char *name);

UNINSTRUMENTED void *bs_dlopen_choose(void)
{
	resolve_libc();
	return __atomic_load_n(&wrappers_active, __ATOMIC_ACQUIRE) ? (void *)managed_dlopen
								   : (void *)libc_dlopen;
}

UNINSTRUMENTED void *bs_dlsym_choose(void *handle, const char *name)
{
	resolve_libc();
	if (__atomic_load_n(&wrappers_active, __ATOMIC_ACQUIRE) && handle != RTLD_NEXT &&
	    name != NULL && bs_wrap_declared(name))
		return (void *)managed_dlsym;
	return (void *)libc_dlsym;
}
