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
#include <time.h>
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

/* Ids found alive by their start time lately, by pid (each word
 * id << 16 | seconds & 0xffff, one word so that threads never mix two):
 * waiters ask about the same few processes over and over, and within
 * VERIFIED_FOR a pid that kill() still finds is taken to be the same
 * process. Pid reuse within that time would need the whole pid space to
 * wrap; even then the cost is a waiter served late, never a cap broken. */
#define VERIFIED_FOR 2
#define VERIFIED_SLOTS 64
static _Atomic uint64_t verified[VERIFIED_SLOTS];

static uint64_t seconds_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec;
}

bool bs_procid_alive(uint64_t id)
{
	const pid_t pid = (pid_t)(id >> START_BITS);
	if (pid <= 0)
		return false;
	if (kill(pid, 0) != 0 && errno == ESRCH)
		return false;
	_Atomic uint64_t *slot = &verified[(unsigned)pid % VERIFIED_SLOTS];
	const uint64_t now = seconds_now(), seen = atomic_load(slot);
	if (seen >> 16 == id && ((now - seen) & 0xffff) < VERIFIED_FOR)
		return true;
	const uint64_t start = start_time(pid);
	/* Without /proc only the pid can be checked. */
	if (start != 0 && make_id(pid, start) != id)
		return false;
	atomic_store(slot, id << 16 | (now & 0xffff));
	return true;
}
