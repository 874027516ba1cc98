/* SIGKILL processes at chosen moments of their use of cap slots.
 *
 *   cap_killer SEED KILLS PROCS -- CMD [ARG...]
 *
 * Runs PROCS copies of CMD, each with a pipe on descriptor 3 on which it
 * reports what its threads do, one line per step: "w PID" (about to
 * connect: it may queue for a slot), "h PID" (connected: it holds a slot)
 * or "L PID" (a connect outlived its deadline); cap_clients' loop mode
 * does. KILLS times, a report is picked with the seeded generator (a
 * kind, holding or waiting, then how many reports of that kind to let
 * pass, 0-15) and its process is SIGKILLed at once, reaped and replaced
 * by a fresh copy; the reports that were still in the pipe from a killed
 * process are ignored. Then every copy is killed and reaped, and one line
 * is printed: "kills=N holding=H waiting=W late=L".
 *
 * Driven only by the reports: no sleeps. Exits 1 when no kill was made
 * for 60 s (the copies made no progress: no report of the kind awaited),
 * 2 on its own errors. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_PROCS 256
#define STALL_MS 60000

static pid_t procs[MAX_PROCS];
static int n_procs;
static char **cmd;
static int report_w;
static uint64_t rng;

static uint64_t next_random(void) /* xorshift64* */
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 2685821657736338717ull;
}

static void die(const char *what)
{
	perror(what);
	exit(2);
}

static pid_t spawn(void)
{
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		if (dup2(report_w, 3) != 3)
			die("dup2");
		execvp(cmd[0], cmd);
		die(cmd[0]);
	}
	return pid;
}

static int index_of(pid_t pid)
{
	for (int i = 0; i < n_procs; i++)
		if (procs[i] == pid)
			return i;
	return -1;
}

static void kill_and_reap(pid_t pid)
{
	if (kill(pid, SIGKILL) != 0 || waitpid(pid, NULL, 0) != pid)
		die("kill");
}

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void stalled(void)
{
	fprintf(stderr, "cap_killer: no kill for %d s\n", STALL_MS / 1000);
	exit(1);
}

/* The next report line; exit 1 when none comes before give_up (ms). */
static void next_report(int fd, long give_up, char *kind, pid_t *pid)
{
	static char buf[4096];
	static size_t len, used;
	for (;;) {
		char *nl = memchr(buf + used, '\n', len - used);
		if (nl != NULL) {
			*nl = '\0';
			int p = 0;
			char k = 0;
			if (sscanf(buf + used, "%c %d", &k, &p) != 2) {
				fprintf(stderr, "bad report: %s\n", buf + used);
				exit(2);
			}
			used = (size_t)(nl + 1 - buf);
			*kind = k;
			*pid = p;
			return;
		}
		memmove(buf, buf + used, len - used);
		len -= used;
		used = 0;
		struct pollfd p = { .fd = fd, .events = POLLIN };
		const long left = give_up - now_ms();
		int r = left > 0 ? poll(&p, 1, (int)left) : 0;
		if (r == 0)
			stalled();
		ssize_t n = r > 0 ? read(fd, buf + len, sizeof buf - len) : -1;
		if (n < 0 && errno != EINTR)
			die("read");
		if (n > 0)
			len += (size_t)n;
	}
}

int main(int argc, char **argv)
{
	if (argc < 6 || strcmp(argv[4], "--") != 0 || (n_procs = atoi(argv[3])) < 1 ||
	    n_procs > MAX_PROCS) {
		fprintf(stderr, "usage: cap_killer SEED KILLS PROCS -- CMD [ARG...]\n");
		return 2;
	}
	rng = strtoull(argv[1], NULL, 10) * 0x9E3779B97F4A7C15ull | 1;
	const long kills = atol(argv[2]);
	cmd = argv + 5;
	int fds[2];
	if (pipe2(fds, O_CLOEXEC) != 0)
		die("pipe");
	report_w = fds[1];
	for (int i = 0; i < n_procs; i++)
		procs[i] = spawn();

	long done = 0, holding = 0, waiting = 0, late = 0;
	char want = 'h';
	uint64_t skip = 0;
	long give_up = now_ms() + STALL_MS;
	while (done < kills) {
		char kind;
		pid_t pid;
		next_report(fds[0], give_up, &kind, &pid);
		if (now_ms() > give_up)
			stalled();
		int i = index_of(pid);
		if (i < 0)
			continue; /* written before its process was killed */
		if (kind == 'L')
			late++;
		if (kind != want)
			continue;
		if (skip > 0) {
			skip--;
			continue;
		}
		kill_and_reap(pid);
		procs[i] = spawn();
		give_up = now_ms() + STALL_MS;
		done++;
		holding += want == 'h';
		waiting += want == 'w';
		uint64_t r = next_random();
		want = r & 1 ? 'h' : 'w';
		skip = (r >> 1) % 16;
	}
	for (int i = 0; i < n_procs; i++)
		kill_and_reap(procs[i]);
	printf("kills=%ld holding=%ld waiting=%ld late=%ld\n", done, holding, waiting, late);
	return 0;
}
