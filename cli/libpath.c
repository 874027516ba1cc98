/* Finding the preload library relative to the backstop binary, so that a
 * build tree and an installed prefix both work without configuration. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/target.h"

int target_find_library(char *buf, size_t cap)
{
	static const char *const candidates[] = {
		"libbackstop-preload.so",
		"../lib/backstop/libbackstop-preload.so",
	};
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n < 0) {
		snprintf(buf, cap, "/proc/self/exe: %s", strerror(errno));
		return -1;
	}
	exe[n] = '\0';
	*strrchr(exe, '/') = '\0';

	char tried[3 * PATH_MAX] = "";
	for (size_t i = 0; i < sizeof candidates / sizeof candidates[0]; i++) {
		char path[2 * PATH_MAX], real[PATH_MAX];
		snprintf(path, sizeof path, "%s/%s", exe, candidates[i]);
		if (access(path, R_OK) == 0 && realpath(path, real)) {
			snprintf(buf, cap, "%s", real);
			return 0;
		}
		snprintf(tried + strlen(tried), sizeof tried - strlen(tried), "%s%s",
			 i ? ", " : "", path);
	}
	snprintf(buf, cap, "%s", tried);
	return -1;
}

/* 0 for an executable regular file, else ENOENT or EACCES as execve
 * would report them. */
static int executable(const char *path)
{
	struct stat st;
	if (stat(path, &st) != 0)
		return errno == EACCES ? EACCES : ENOENT;
	return S_ISREG(st.st_mode) && access(path, X_OK) == 0 ? 0 : EACCES;
}

int target_resolve(const char *cmd, char *buf, size_t cap)
{
	if (strchr(cmd, '/')) {
		snprintf(buf, cap, "%s", cmd);
		return executable(cmd);
	}
	const char *path = getenv("PATH");
	if (!path || !*path)
		path = "/usr/local/bin:/usr/bin:/bin";
	int result = ENOENT;
	for (const char *p = path;; p++) {
		size_t len = strcspn(p, ":");
		/* An empty PATH entry means the current directory. */
		snprintf(buf, cap, "%.*s%s%s", (int)len, len ? p : ".", "/", cmd);
		int rc = executable(buf);
		if (rc == 0)
			return 0;
		if (rc == EACCES)
			result = EACCES;
		p += len;
		if (!*p)
			break;
	}
	return result;
}
