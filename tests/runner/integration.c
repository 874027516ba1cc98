/* Runs each tests/integration/test_NAME.sh as the Check test case NAME.
 *
 * A script passes by exiting 0. It runs in its own process group, in a fresh
 * directory ($BS_TMP), with its output in $BS_BUILD/test-logs/NAME.log, the
 * tail of which becomes the failure message. A script that hangs is killed
 * after BS_TEST_TIMEOUT seconds (default 300): a bound on a hang, never a
 * measurement. A script that exits BS_SKIP_STATUS (77, as in automake) was
 * not meaningful in this build (lib.sh says why): it counts as passed and
 * its last line is printed, so a skip is never silent. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/runner/bs_test.h"

extern char **environ;

#define MAX_SCRIPTS 256
#define TAIL_BYTES 3000
#define BS_SKIP_STATUS 77

static char *scripts[MAX_SCRIPTS]; /* file names, test_NAME.sh */
static char *names[MAX_SCRIPTS];   /* case names, NAME */
static int n_scripts;

static const char *env_or(const char *name, const char *fallback)
{
	const char *v = getenv(name);
	return v && *v ? v : fallback;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int is_script(const struct dirent *d)
{
	size_t n = strlen(d->d_name);
	return strncmp(d->d_name, "test_", 5) == 0 && n > 8 &&
	       strcmp(d->d_name + n - 3, ".sh") == 0;
}

/* Run a command to completion; its exit status, or -1. */
static int spawn_wait(char *argv[])
{
	pid_t pid;
	int status;
	if (posix_spawnp(&pid, argv[0], NULL, NULL, argv, environ) != 0 ||
	    waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* The last TAIL_BYTES of a file, for a failure message. */
static void read_tail(const char *path, char *out, size_t cap)
{
	out[0] = '\0';
	FILE *f = fopen(path, "r");
	if (!f)
		return;
	fseek(f, 0, SEEK_END);
	long size = ftell(f);
	fseek(f, size > (long)cap - 1 ? size - (long)cap + 1 : 0, SEEK_SET);
	size_t n = fread(out, 1, cap - 1, f);
	out[n] = '\0';
	fclose(f);
}

static void run_script(const char *script, const char *name)
{
	const char *top = env_or("BS_TOP", ".");
	const char *build = env_or("BS_BUILD", "build");
	int timeout = atoi(env_or("BS_TEST_TIMEOUT", "300"));
	char tmp[PATH_MAX], logs[PATH_MAX], log[PATH_MAX], path[PATH_MAX];
	ck_assert_msg(snprintf(tmp, sizeof tmp, "%s/test-tmp/%s", build, name) < PATH_MAX &&
			      snprintf(logs, sizeof logs, "%s/test-logs", build) < PATH_MAX &&
			      snprintf(log, sizeof log, "%s/%s.log", logs, name) < PATH_MAX &&
			      snprintf(path, sizeof path, "%s/tests/integration/%s", top, script) < PATH_MAX,
		      "paths too long under %s", build);

	ck_assert_msg(spawn_wait((char *[]){ "rm", "-rf", tmp, NULL }) == 0 &&
			      spawn_wait((char *[]){ "mkdir", "-p", tmp, logs, NULL }) == 0,
		      "cannot prepare %s", tmp);

	sigset_t chld, old;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, &old);

	pid_t pid = fork();
	ck_assert_msg(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		setpgid(0, 0);
		int out = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int in = open("/dev/null", O_RDONLY);
		if (out < 0 || in < 0 || chdir(tmp) != 0)
			_exit(126);
		dup2(in, 0);
		dup2(out, 1);
		dup2(out, 2);
		setenv("BS_TMP", tmp, 1);
		execl("/bin/bash", "bash", path, (char *)NULL);
		_exit(127);
	}
	setpgid(pid, pid);

	struct timespec limit = { .tv_sec = timeout };
	int status = 0, timed_out = 0;
	for (;;) {
		pid_t done = waitpid(pid, &status, WNOHANG);
		if (done == pid)
			break;
		if (sigtimedwait(&chld, NULL, &limit) < 0 && errno == EAGAIN) {
			timed_out = 1;
			kill(-pid, SIGKILL);
			waitpid(pid, &status, 0);
			break;
		}
	}
	kill(-pid, SIGKILL); /* whatever the script left behind */
	sigprocmask(SIG_SETMASK, &old, NULL);

	if (!timed_out && WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return;
	char tail[TAIL_BYTES];
	read_tail(log, tail, sizeof tail);
	if (!timed_out && WIFEXITED(status) && WEXITSTATUS(status) == BS_SKIP_STATUS) {
		fprintf(stderr, "---- %s skipped: %s", name, tail);
		return;
	}
	fprintf(stderr, "---- %s failed; end of %s:\n%s\n----\n", name, log, tail);
	if (timed_out)
		ck_abort_msg("%s: no result after %d s (log: %s)", name, timeout, log);
	ck_abort_msg("%s: exit status %d (log: %s)", name,
		     WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), log);
}

START_TEST(integration_script)
{
	run_script(scripts[_i], names[_i]);
}
END_TEST

Suite *bs_integration_suite(void)
{
	Suite *s = suite_create("integration");
	char dir[4096];
	snprintf(dir, sizeof dir, "%s/tests/integration", env_or("BS_TOP", "."));
	struct dirent **list;
	int n = scandir(dir, &list, is_script, by_name);
	for (int i = 0; i < n; i++) {
		if (n_scripts < MAX_SCRIPTS) {
			const char *file = list[i]->d_name;
			scripts[n_scripts] = strdup(file);
			names[n_scripts] = strndup(file + 5, strlen(file) - 8);
			TCase *tc = tcase_create(names[n_scripts]);
			tcase_set_timeout(tc, 3600);
			tcase_set_tags(tc, "integration"); /* make unit excludes the tag */
			tcase_add_loop_test(tc, integration_script, n_scripts, n_scripts + 1);
			suite_add_tcase(s, tc);
			n_scripts++;
		}
		free(list[i]);
	}
	if (n > 0)
		free(list);
	return s;
}
