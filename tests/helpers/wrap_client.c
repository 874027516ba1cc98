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
 *   wrap_client nested        wrapf_call(cb), cb calls wrapf_busy()
 *   wrap_client signal        prints "pid=N", installs SIGUSR1 without and
 *                             SIGUSR2 with SA_RESTART, then wrapf_busy()
 *   wrap_client loop N        wrapf_busy() N times (for instruction counts)
 *   wrap_client reload        the plugin by path: plugin_run() through dlsym,
 *                             dlclose, its old address blocked, dlopen again
 *                             (so it lands elsewhere), plugin_run() again,
 *                             each failing twice first: "R1 R2 moved" 
 *   wrap_client threads       4 threads call wrapf_busy() while the main
 *                             thread dlopens the plugin and runs it; then a
 *                             forked child, failing twice more, calls
 *                             wrapf_busy() directly and through dlsym */
#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

int wrapf_busy(void);
void *wrapf_alloc(size_t size);
ssize_t wrapf_take(int err, size_t n);
int wrapf_call(int (*fn)(void));
void wrapf_reset(int n);

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

static void on_signal(int sig)
{
	(void)sig;
}

static void handle(int sig, int flags)
{
	struct sigaction sa = { .sa_handler = on_signal, .sa_flags = flags };
	sigemptyset(&sa.sa_mask);
	sigaction(sig, &sa, NULL);
}

static void *busy_thread(void *arg)
{
	*(int *)arg = wrapf_busy();
	return NULL;
}

static int run_plugin(const char *name)
{
	void *h = dlopen(name, RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) {
		fprintf(stderr, "dlopen: %s\n", dlerror());
		return -100;
	}
	int (*run)(void) = (int (*)(void))dlsym(h, "plugin_run");
	return run();
}

/* Where the plugin sits next to this program. */
static int plugin_path(char *path, size_t cap)
{
	ssize_t n = readlink("/proc/self/exe", path, cap - 32);
	if (n <= 0)
		return -1;
	path[n] = '\0';
	strcpy(strrchr(path, '/') + 1, "libwrap_plugin.so");
	return 0;
}

/* The load address of a dlopen handle (dladdr cannot say: a wrapped
 * function's address is backstop's, outside any object). */
static void *base_of(void *h)
{
	struct link_map *lm = NULL;
	return h != NULL && dlinfo(h, RTLD_DI_LINKMAP, &lm) == 0 ? (void *)lm->l_addr : NULL;
}

static int reload(void)
{
	char path[4096];
	if (plugin_path(path, sizeof path) != 0)
		return 2;
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	int (*run)(void) = h ? (int (*)(void))dlsym(h, "plugin_run") : NULL;
	void *old_base = base_of(h);
	if (run == NULL || old_base == NULL)
		return 2;
	wrapf_reset(2);
	int first = run();
	dlclose(h);
	if (dlopen(path, RTLD_NOW | RTLD_NOLOAD) != NULL)
		return 3; /* still loaded: the test would prove nothing */
	if (mmap(old_base, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
		 -1, 0) != old_base)
		return 4;
	h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	run = h ? (int (*)(void))dlsym(h, "plugin_run") : NULL;
	if (run == NULL)
		return 2;
	wrapf_reset(2);
	printf("%d %d %s\n", first, run(), base_of(h) != old_base ? "moved" : "same");
	return 0;
}

static int threads(void)
{
	pthread_t t[4];
	int got[4];
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, busy_thread, &got[i]);
	/* By path: a sanitizer's dlopen interceptor would lose the RUNPATH. */
	char path[4096];
	if (plugin_path(path, sizeof path) != 0)
		return 2;
	int plugin = run_plugin(path);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	printf("threads %d %d %d %d plugin %d\n", got[0], got[1], got[2], got[3], plugin);
	fflush(stdout);
	pid_t child = fork();
	if (child == 0) {
		wrapf_reset(2);
		int direct = wrapf_busy();
		wrapf_reset(2);
		printf("child %d %d\n", direct, call_symbol(RTLD_DEFAULT));
		fflush(stdout);
		_exit(0);
	}
	int status;
	return waitpid(child, &status, 0) == child && WIFEXITED(status) ? WEXITSTATUS(status) : 1;
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
		printf("%d\n", run_plugin("libwrap_plugin.so"));
	} else if (strcmp(mode, "signal") == 0) {
		handle(SIGUSR1, 0);
		handle(SIGUSR2, SA_RESTART);
		printf("pid=%d\n", (int)getpid());
		fflush(stdout);
		printf("%d\n", wrapf_busy());
	} else if (strcmp(mode, "loop") == 0 && argc > 2) {
		long sum = 0;
		for (long i = atol(argv[2]); i > 0; i--)
			sum += wrapf_busy();
		printf("%ld\n", sum);
	} else if (strcmp(mode, "threads") == 0) {
		return threads();
	} else if (strcmp(mode, "reload") == 0) {
		return reload();
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
		fprintf(stderr, "usage: wrap_client busy|dlsym|handle|plugin|alloc|take ERRNO|nested|"
				"signal|threads|loop N|reload\n");
		return 2;
	}
	return 0;
}
