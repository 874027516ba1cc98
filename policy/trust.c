/* Whether a policy file may steer a privileged process.
 *
 * A policy decides where the log is appended and how a program connects;
 * a file someone else can write would let them steer a setuid program or
 * a root daemon (e.g. append its log to a root-owned file). So when the
 * process runs with privilege, the file must be owned by root or by the
 * effective user and must not be group- or world-writable. Checked on the
 * open descriptor, so a file swapped in after the check is never read. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "policy/load_internal.h"

int bs_file_trusted(int fd, const char *path, uid_t euid, struct bs_error *err)
{
	struct stat st;
	if (fstat(fd, &st) != 0) {
		snprintf(err->msg, sizeof err->msg, "%s: cannot stat: %s", path, strerror(errno));
		return -1;
	}
	if (S_ISDIR(st.st_mode))
		return 0; /* nothing to trust: reading it fails with its own message */
	if (st.st_uid != 0 && st.st_uid != euid) {
		snprintf(err->msg, sizeof err->msg,
			 "%s: refused: owned by uid %u, but a privileged process only reads a policy owned by root or by uid %u",
			 path, (unsigned)st.st_uid, (unsigned)euid);
		return -1;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		snprintf(err->msg, sizeof err->msg,
			 "%s: refused: %s-writable (mode %04o), and a privileged process only reads a policy no one else can change (chmod go-w)",
			 path, st.st_mode & S_IWOTH ? "world" : "group",
			 (unsigned)(st.st_mode & 07777));
		return -1;
	}
	return 0;
}
