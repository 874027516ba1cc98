/* Process ids that survive pid reuse (see procid.h). */
#include "engine/procid.h"
#include "engine/sys.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define PID_BITS 22   /* pid_max is at most 2^22 */
#define START_BITS (BS_PROCID_BITS - PID_BITS)

/* The start time of pid, in clock ticks since boot; 0 when unknown (no
 * /proc, or the process is gone). Read with raw calls only: the preload
 * interposes close. */
static uint64_t start_time(pid_t pid)
{
	char path[32], buf[512];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = bs_sys_read(fd, buf, sizeof buf - 1);
	bs_sys_close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* The command name may hold spaces and parentheses: count fields
	 * from the last ')', which ends it (field 2). */
	char *p = strrchr(buf, ')');
	for (int field = 2; p != NULL && field < 22; field++)
		p = strchr(p + 1, ' ');
	return p != NULL ? strtoull(p + 1, NULL, 10) : 0;
}

static uint64_t make_id(pid_t pid, uint64_t start)
{
	return (uint64_t)pid << START_BITS | (start & ((UINT64_C(1) << START_BITS) - 1));
}

static _Atomic uint64_t cached; /* the id of the pid below */
static _Atomic pid_t cached_pid;

uint64_t bs_procid_self(void)
{
	const pid_t pid = (pid_t)syscall(SYS_getpid);
	if (atomic_load(&cached_pid) == pid)
		return atomic_load(&cached);
	const uint64_t id = make_id(pid, start_time(pid));
	atomic_store(&cached, id);
	atomic_store(&cached_pid, pid);
	return id;
}

bool bs_procid_alive(uint64_t id)
{
	const pid_t pid = (pid_t)(id >> START_BITS);
	if (pid <= 0)
		return false;
	if (kill(pid, 0) != 0 && errno == ESRCH)
		return false;
	const uint64_t start = start_time(pid);
	/* Without /proc only the pid can be checked. */
	return start == 0 ? true : make_id(pid, start) == id;
}
