/* Line input for `backstop log`. While following, a line that is still
 * being written (no newline yet) is held back until it is complete, so a
 * torn read never counts as a torn line. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli/logread.h"
#include "engine/sys.h"

/* How often a followed file is checked for new lines. */
#define FOLLOW_POLL_NS 200000000L

struct input {
	const char *name;
	FILE *f;
	char *partial; /* the start of a line whose end has not arrived */
	size_t partial_len;
};

/* Hand the line (joined with any held-back start) to fn. */
static int deliver(struct input *in, char *line, size_t len, bool live,
		   logread_fn fn, void *ctx)
{
	if (len && line[len - 1] == '\n')
		line[--len] = '\0';
	if (!in->partial)
		return fn(ctx, line, live);
	char *joined = realloc(in->partial, in->partial_len + len + 1);
	if (!joined)
		return -1;
	memcpy(joined + in->partial_len, line, len + 1);
	in->partial = NULL;
	int rc = fn(ctx, joined, live);
	free(joined);
	return rc;
}

static int hold(struct input *in, const char *line, size_t len)
{
	char *p = realloc(in->partial, in->partial_len + len + 1);
	if (!p)
		return -1;
	memcpy(p + in->partial_len, line, len + 1);
	in->partial = p;
	in->partial_len += len;
	return 0;
}

/* A followed file that shrank was truncated (log rotation by copytruncate):
 * start again from its beginning, as tail -F does. */
static void rewind_if_truncated(struct input *in)
{
	struct stat st;
	long pos = ftell(in->f);
	if (pos > 0 && fstat(fileno(in->f), &st) == 0 && S_ISREG(st.st_mode) &&
	    st.st_size < pos) {
		fprintf(stderr, "backstop log: %s: file truncated, reading from its start\n",
			in->name);
		rewind(in->f);
		free(in->partial);
		in->partial = NULL;
		in->partial_len = 0;
	}
}

/* Read what is available now. Returns the number of lines read, or -1. */
static long drain(struct input *in, bool follow, bool live, logread_fn fn, void *ctx)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	long lines = 0;
	while ((len = getline(&line, &cap, in->f)) >= 0) {
		int rc = follow && line[len - 1] != '\n' ? hold(in, line, (size_t)len)
							 : deliver(in, line, (size_t)len, live, fn, ctx);
		if (rc != 0) {
			free(line);
			return -1;
		}
		lines++;
	}
	free(line);
	clearerr(in->f);
	return lines;
}

int logread_run(char *const *files, int n, bool follow,
		volatile sig_atomic_t *stop, logread_fn fn, void *ctx)
{
	struct input *inputs = calloc((size_t)n, sizeof *inputs);
	int rc = inputs ? 0 : -1;
	for (int i = 0; rc == 0 && i < n; i++) {
		inputs[i].name = strcmp(files[i], "-") == 0 ? "(stdin)" : files[i];
		inputs[i].f = strcmp(files[i], "-") == 0 ? stdin : fopen(files[i], "r");
		if (!inputs[i].f) {
			fprintf(stderr, "backstop log: %s: %s\n", files[i], strerror(errno));
			rc = -1;
		}
	}
	for (int i = 0; rc == 0 && i < n; i++)
		if (drain(&inputs[i], follow, false, fn, ctx) < 0)
			rc = -1;
	if (rc == 0 && follow)
		fprintf(stderr, "backstop log: following %d file%s; new events are printed "
				"as they arrive, Ctrl-C prints the summary\n", n, n == 1 ? "" : "s");
	while (rc == 0 && follow && !*stop) {
		long got = 0;
		for (int i = 0; rc == 0 && i < n && !*stop; i++) {
			rewind_if_truncated(&inputs[i]);
			long lines = drain(&inputs[i], follow, true, fn, ctx);
			rc = lines < 0 ? -1 : 0;
			got += lines;
		}
		if (rc == 0 && got == 0 && !*stop)
			bs_sys_nanosleep(&(struct timespec){ .tv_nsec = FOLLOW_POLL_NS }, NULL);
	}
	for (int i = 0; inputs && i < n; i++) {
		if (inputs[i].f && inputs[i].f != stdin)
			fclose(inputs[i].f);
		free(inputs[i].partial);
	}
	free(inputs);
	return rc;
}
