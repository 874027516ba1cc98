/* Check that every line of a backstop log with a given event carries the
 * given fields, and print how many such lines there are.
 *
 *   conn_logcheck FILE EVENT FIELD...
 *
 * Exit 1 naming the first line that lacks a field. Fields are matched as
 * "NAME": keys, which is exact for backstop's flat JSON lines. */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: conn_logcheck FILE EVENT FIELD...\n");
		return 2;
	}
	FILE *f = fopen(argv[1], "r");
	if (f == NULL) {
		perror(argv[1]);
		return 2;
	}
	char event[128], key[128], line[8192];
	snprintf(event, sizeof event, "\"event\":\"%s\"", argv[2]);
	int count = 0, n = 0;
	while (fgets(line, sizeof line, f) != NULL) {
		n++;
		if (strstr(line, event) == NULL)
			continue;
		count++;
		for (int i = 3; i < argc; i++) {
			snprintf(key, sizeof key, "\"%s\":", argv[i]);
			if (strstr(line, key) == NULL) {
				fprintf(stderr, "%s:%d: %s lacks %s: %s", argv[1], n,
					argv[2], argv[i], line);
				return 1;
			}
		}
	}
	printf("%d\n", count);
	return 0;
}
