/* What `backstop run` needs to know about its target (cli/target.h): the
 * preload library, found relative to the backstop binary so that a build
 * tree and an installed prefix both work without configuration; the
 * command, resolved through PATH; and whether LD_PRELOAD can reach it, from
 * its ELF program headers (a static binary has no PT_INTERP, so no dynamic
 * loader ever runs) and its mode bits (setuid/setgid means secure
 * execution). */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/target.h"
#include "engine/sys.h"

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

/* ---- reachability ---------------------------------------------------- */

enum elf_kind { NOT_ELF, ELF_DYNAMIC, ELF_STATIC };

/* Read the program headers of an ELF file of either class. */
static enum elf_kind elf_kind(int fd)
{
	unsigned char ident[EI_NIDENT];
	if (pread(fd, ident, sizeof ident, 0) != (ssize_t)sizeof ident ||
	    memcmp(ident, ELFMAG, SELFMAG) != 0)
		return NOT_ELF;
	int is64 = ident[EI_CLASS] == ELFCLASS64;
	uint64_t phoff;
	unsigned phnum, phentsize;
	if (is64) {
		Elf64_Ehdr eh;
		if (pread(fd, &eh, sizeof eh, 0) != (ssize_t)sizeof eh)
			return NOT_ELF;
		phoff = eh.e_phoff, phnum = eh.e_phnum, phentsize = eh.e_phentsize;
	} else {
		Elf32_Ehdr eh;
		if (pread(fd, &eh, sizeof eh, 0) != (ssize_t)sizeof eh)
			return NOT_ELF;
		phoff = eh.e_phoff, phnum = eh.e_phnum, phentsize = eh.e_phentsize;
	}
	for (unsigned i = 0; i < phnum; i++) {
		uint32_t type;
		/* p_type is the first field of both Elf32_Phdr and Elf64_Phdr. */
		if (pread(fd, &type, sizeof type, (off_t)(phoff + (uint64_t)i * phentsize)) !=
		    (ssize_t)sizeof type)
			return NOT_ELF;
		if (type == PT_INTERP)
			return ELF_DYNAMIC;
	}
	return ELF_STATIC;
}

/* The interpreter named on a "#!" line, in buf; 0 when there is none. */
static int shebang(int fd, char *buf, size_t cap)
{
	char line[256];
	ssize_t n = pread(fd, line, sizeof line - 1, 0);
	if (n < 3 || line[0] != '#' || line[1] != '!')
		return 0;
	line[n] = '\0';
	char *p = line + 2 + strspn(line + 2, " \t");
	size_t len = strcspn(p, " \t\n");
	if (len == 0 || len >= cap)
		return 0;
	memcpy(buf, p, len);
	buf[len] = '\0';
	return 1;
}

static void warn_file(const char *cmd, const char *path, int depth)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) != 0) {
		if (fd >= 0)
			bs_sys_close(fd);
		return;
	}
	if (st.st_mode & (S_ISUID | S_ISGID))
		fprintf(stderr,
			"backstop: warning: %s is set%cid; under secure execution the loader "
			"ignores LD_PRELOAD paths with slashes and backstop ignores BACKSTOP_* "
			"variables\n",
			path, st.st_mode & S_ISUID ? 'u' : 'g');
	char interp[256];
	switch (elf_kind(fd)) {
	case ELF_STATIC:
		if (depth == 0)
			fprintf(stderr, "backstop: warning: %s is statically linked; "
					"LD_PRELOAD cannot reach it\n", cmd);
		else
			fprintf(stderr, "backstop: warning: %s runs %s, which is statically "
					"linked; LD_PRELOAD cannot reach it\n", cmd, path);
		break;
	case NOT_ELF:
		if (depth == 0 && shebang(fd, interp, sizeof interp))
			warn_file(cmd, interp, depth + 1);
		break;
	case ELF_DYNAMIC:
		break;
	}
	bs_sys_close(fd);
}

void target_warn_unreachable(const char *cmd, const char *path)
{
	warn_file(cmd, path, 0);
}
