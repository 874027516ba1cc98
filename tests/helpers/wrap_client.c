/* Calls libwrap_flaky (tests/shims/libwrap_flaky.c) the way a legacy
 * program would, once, and prints what it got. Linked -z now with full
 * RELRO (mk/wrap.mk).
 *
 *   wrap_client busy          wrapf_busy() through the GOT
 *   wrap_client dlsym         wrapf_busy() through dlsym(RTLD_DEFAULT)
 *   wrap_client handle        wrapf_busy() through dlsym(dlopen(lib))
 *   wrap_client plugin        dlopen("libwrap_plugin.so"), plugin_run()
 *   wrap_client alloc         wrapf_alloc(16): "ptr" or "null"
 *   wrap_client take ERRNO    wrapf_take(ERRNO, 7): "7" or "-1 errno N"
 *   wrap_client nested        wrapf_call(cb), cb calls wrapf_busy() */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

int wrapf_busy(void);
void *wrapf_alloc(size_t size);
ssize_t wrapf_take(int err, size_t n);
int wrapf_call(int (*fn)(void));

static int inner;

static int callback(void)
{
	inner = wrapf_busy();
	return 0;
}

static int call_symbol(void *handle)
{
	int (*fn)(void) = (int (*)(void))dlsym(handle, "wrapf_busy");
	if (fn == NULL) {
		fprintf(stderr, "dlsym: %s\n", dlerror());
		exit(2);
	}
	return fn();
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "busy";
	if (strcmp(mode, "busy") == 0) {
		printf("%d\n", wrapf_busy());
	} else if (strcmp(mode, "dlsym") == 0) {
		printf("%d\n", call_symbol(RTLD_DEFAULT));
	} else if (strcmp(mode, "handle") == 0) {
		void *h = dlopen("libwrap_flaky.so", RTLD_NOW);
		printf("%d\n", h ? call_symbol(h) : -100);
	} else if (strcmp(mode, "plugin") == 0) {
		void *h = dlopen("libwrap_plugin.so", RTLD_NOW | RTLD_LOCAL);
		if (h == NULL) {
			fprintf(stderr, "dlopen: %s\n", dlerror());
			return 2;
		}
		int (*run)(void) = (int (*)(void))dlsym(h, "plugin_run");
		printf("%d\n", run());
	} else if (strcmp(mode, "alloc") == 0) {
		printf("%s\n", wrapf_alloc(16) ? "ptr" : "null");
	} else if (strcmp(mode, "take") == 0 && argc > 2) {
		errno = 0;
		ssize_t r = wrapf_take(atoi(argv[2]), 7);
		if (r < 0)
			printf("%zd errno %d\n", r, errno);
		else
			printf("%zd\n", r);
	} else if (strcmp(mode, "nested") == 0) {
		int outer = wrapf_call(callback);
		printf("%d %d\n", outer, inner);
	} else {
		fprintf(stderr, "usage: wrap_client busy|dlsym|handle|plugin|alloc|take ERRNO|nested\n");
		return 2;
	}
	return 0;
}
