/* Follow a backstop log arriving on stdin (a pipe) until enough has
 * happened: copies every byte to FILE and exits 0 as soon as COUNT lines
 * containing TEXT have been seen (1 if the pipe closes first). The caller
 * keeps reading the same pipe afterwards (e.g. `cat >>FILE`); nothing read
 * here is lost, it is all in FILE.
 *
 *   conn_logwait FILE TEXT COUNT  <pipe */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: conn_logwait FILE TEXT COUNT <pipe\n");
		return 2;
	}
	int out = open(argv[1], O_WRONLY | O_CREAT | O_APPEND, 0644);
	if (out < 0) {
		perror(argv[1]);
		return 2;
	}
	const char *text = argv[2];
	long want = atol(argv[3]), seen = 0;
	char line[8192];
	size_t len = 0;
	char c;
	/* One byte at a time: never read past the line that completes COUNT. */
	while (seen < want && read(STDIN_FILENO, &c, 1) == 1) {
		if (write(out, &c, 1) != 1)
			return 2;
		if (c != '\n') {
			if (len < sizeof line - 1)
				line[len++] = c;
			continue;
		}
		line[len] = '\0';
		len = 0;
		if (strstr(line, text) != NULL)
			seen++;
	}
	return seen >= want ? 0 : 1;
}
