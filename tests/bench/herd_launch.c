/* Start N copies of a command at (nearly) the same instant.
 *
 *   bench_herd_launch N CMD [ARGS...]
 *
 * Forks N children that each block on one pipe; closing the pipe releases
 * them all at once, and each execs CMD (exec and dynamic loading after the
 * release are the only spread). Prints "released EPOCH_US", then, when
 * all have exited, "ok K" (how many exited 0). Children's stdout goes to
 * /dev/null; stderr is kept. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 3 || atoi(argv[1]) < 1) {
		fprintf(stderr, "usage: bench_herd_launch N CMD [ARGS...]\n");
		return 2;
	}
	int n = atoi(argv[1]), gate[2];
	if (pipe(gate) < 0) {
		perror("bench_herd_launch: pipe");
		return 1;
	}
	for (int i = 0; i < n; i++) {
		pid_t pid = fork();
		if (pid < 0) {
			perror("bench_herd_launch: fork");
			return 1;
		}
		if (pid == 0) {
			close(gate[1]);
			char c;
			if (read(gate[0], &c, 1) < 0)
				_exit(127);
			int null = open("/dev/null", O_WRONLY);
			dup2(null, STDOUT_FILENO);
			close(null);
			close(gate[0]);
			execvp(argv[2], argv + 2);
			perror("bench_herd_launch: exec");
			_exit(127);
		}
	}
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	close(gate[1]);
	printf("released %lld\n", (long long)t.tv_sec * 1000000 + t.tv_nsec / 1000);
	fflush(stdout);
	int ok = 0, status;
	while (wait(&status) > 0)
		ok += WIFEXITED(status) && WEXITSTATUS(status) == 0;
	printf("ok %d\n", ok);
	return 0;
}
