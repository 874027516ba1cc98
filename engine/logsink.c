/* The log's sinks: opening a private descriptor for stderr, fd:N, a file
 * or syslog (or, for stderr on a pipe or terminal, none at all), writing
 * one line without blocking or SIGPIPE, and re-homing the descriptor when
 * the program reuses its number. See log.h. fcntl and close are the
 * preload's wrappers inside the preload: raw system calls here. */
#include "engine/log.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "engine/sys.h"
#include "policy/errnames.h"

#define HIGH_FD_FLOOR 900
#define SYSLOG_PATH "/dev/log"
#define SYSLOG_PRI "<30>" /* facility daemon (3) * 8 + severity info (6) */

/* Where private descriptors go: HIGH_FD_FLOOR, or 7/8 of a lower
 * RLIMIT_NOFILE soft limit, so the program keeps its low numbers. */
static int high_fd_floor(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur < HIGH_FD_FLOOR + HIGH_FD_FLOOR / 8) {
		int floor = (int)(rl.rlim_cur - rl.rlim_cur / 8);
		return floor > 3 ? floor : 3;
	}
	return HIGH_FD_FLOOR;
}

/* A close-on-exec duplicate at a high number, or anywhere above stdio when
 * the high range is full; -1 when none can be had. */
static int dup_high(int fd)
{
	int copy = bs_sys_fcntl(fd, F_DUPFD_CLOEXEC, high_fd_floor());
	return copy >= 0 ? copy : bs_sys_fcntl(fd, F_DUPFD_CLOEXEC, 3);
}

/* Replace a descriptor we own by its high duplicate (kept when the dup
 * fails: it is still ours and close-on-exec). */
static int own_high(int fd)
{
	int copy = dup_high(fd);
	if (copy < 0)
		return fd;
	bs_sys_close(fd);
	return copy;
}

static int fail(struct bs_log *log, struct bs_error *err, const char *sink,
		const char *what, int e)
{
	const char *name = bs_errno_name(e);
	if (e != 0)
		snprintf(err->msg, sizeof(err->msg), "log %s: %s: %s (%s)", sink, what,
			 strerror(e), name != NULL ? name : "?");
	else
		snprintf(err->msg, sizeof(err->msg), "log %s: %s", sink, what);
	log->fd = -1;
	return -1;
}

/* Whether the program opened n for reading only: it cannot print there,
 * and a write through a new open of /proc/self/fd/n would land in what
 * the program reads (a pipe's other end). */
static bool read_only(int n)
{
	int flags = bs_sys_fcntl(n, F_GETFL, 0);
	return flags >= 0 && (flags & O_ACCMODE) == O_RDONLY;
}

/* "/proc/self/fd/N" */
static void proc_fd_path(char path[40], int n)
{
	memcpy(path, "/proc/self/fd/", 14);
	path[14 + bs_fmt_u64(path + 14, (uint64_t)n)] = '\0';
}

/* A new open file description of what the program has at n, for writing:
 * O_NONBLOCK stays ours. */
static int reopen(int n)
{
	char path[40];
	proc_fd_path(path, n);
	return open(path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
}

/* stderr or fd:N: a private descriptor for what the program has at n.
 * stderr on a pipe, FIFO, terminal or character device is the exception:
 * holding it would keep the launcher's pipe or terminal open for as long
 * as the process lives, after a daemon dup2()ed /dev/null over its
 * stderr (or closed it in ways no wrapper sees: fclose, freopen), and
 * `x=$(prog)`, ssh and CI runners would wait for an EOF that never comes.
 * So that sink holds nothing: each line reopens fd 2 while it still names
 * the same file (see write_via). Checking only at write time would not
 * do: a daemon that never logs again would keep the pipe forever. */
static int open_inherited(struct bs_log *log, int n, const char *sink,
			  struct bs_error *err)
{
	struct stat st;
	if (fstat(n, &st) < 0)
		return fail(log, err, sink, "descriptor is not open", errno);
	if (read_only(n))
		return fail(log, err, sink, "descriptor is open for reading only", 0);
	int fd = -1;
	if (!S_ISSOCK(st.st_mode) && !S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		fd = reopen(n);
		if (fd >= 0 && log->kind == BS_LOG_STDERR) {
			bs_sys_close(fd); /* /proc works: nothing is held */
			log->via = true;
			log->via_fd = n;
			log->via_dev = st.st_dev;
			log->via_ino = st.st_ino;
			log->io = S_ISFIFO(st.st_mode) ? BS_LOGIO_PIPE : BS_LOGIO_WRITE;
			return 0;
		}
		if (fd >= 0)
			fd = own_high(fd);
	}
	if (fd < 0) /* sockets, files, or no /proc: share the description */
		fd = dup_high(n);
	if (fd < 0)
		return fail(log, err, sink, "cannot duplicate the descriptor", errno);
	log->io = S_ISSOCK(st.st_mode) ? BS_LOGIO_SEND :
		  S_ISFIFO(st.st_mode) ? BS_LOGIO_PIPE : BS_LOGIO_WRITE;
	log->fd = fd;
	return 0;
}

#define FILE_FLAGS (O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY)
#define ROTATION_CHECK_NS 1000000000ull /* how often a file sink's path is looked at */

static bool loggable(const struct stat *st)
{
	return S_ISREG(st->st_mode) || S_ISFIFO(st->st_mode) || S_ISCHR(st->st_mode);
}

/* The path to look at for rotation, absolute: the program may chdir. */
static char *absolute_path(const char *path)
{
	char cwd[PATH_MAX];
	if (path[0] == '/')
		return strdup(path);
	if (getcwd(cwd, sizeof cwd) == NULL)
		return NULL; /* no rotation check: the path cannot be found again */
	size_t n = strlen(cwd) + strlen(path) + 2;
	char *abs = malloc(n);
	if (abs != NULL)
		snprintf(abs, n, "%s/%s", cwd, path);
	return abs;
}

/* After a rotation (the path now names another file, or none), open the
 * path again into the same descriptor number (dup3 replaces the file
 * behind it atomically: a thread writing meanwhile writes to one or the
 * other, and the number, protected from the program, stays ours). Looked
 * at once a second at most, on a line, with a clock read from the vDSO;
 * lines in that second still reach the old file, which rotation keeps. */
static void follow_rotation(struct bs_log *log, int fd)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	uint64_t now = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	uint64_t due = atomic_load_explicit(&log->rotation_due, memory_order_relaxed);
	if (now < due || !atomic_compare_exchange_strong(&log->rotation_due, &due,
							 now + ROTATION_CHECK_NS))
		return; /* not due, or another thread looks */
	struct stat ours, named;
	if (fstat(fd, &ours) != 0 || !S_ISREG(ours.st_mode) ||
	    (lstat(log->path, &named) == 0 && named.st_dev == ours.st_dev &&
	     named.st_ino == ours.st_ino))
		return;
	int fresh = open(log->path, FILE_FLAGS, 0600);
	if (fresh < 0)
		return; /* e.g. a symbolic link put there: keep the old file */
	if (fstat(fresh, &named) == 0 && loggable(&named))
		syscall(SYS_dup3, fresh, fd, O_CLOEXEC);
	bs_sys_close(fresh);
}

static int open_file(struct bs_log *log, const char *path, struct bs_error *err)
{
	if (path == NULL || path[0] == '\0')
		return fail(log, err, "file", "no path given", 0);
	int fd = open(path, FILE_FLAGS, 0600);
	if (fd < 0 && errno == ELOOP)
		return fail(log, err, path, "is a symbolic link (refused; name the target)", 0);
	if (fd < 0 && errno == ENXIO)
		return fail(log, err, path, "is a FIFO without a reader, or a socket", 0);
	if (fd < 0)
		return fail(log, err, path, "cannot open", errno);
	struct stat st;
	if (fstat(fd, &st) < 0 || !loggable(&st)) {
		bs_sys_close(fd);
		return fail(log, err, path, "is not a regular file, FIFO or character device", 0);
	}
	log->io = S_ISFIFO(st.st_mode) ? BS_LOGIO_PIPE : BS_LOGIO_WRITE;
	log->fd = own_high(fd);
	if (S_ISREG(st.st_mode))
		log->path = absolute_path(path);
	return 0;
}

static int open_syslog(struct bs_log *log, struct bs_error *err)
{
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return fail(log, err, "syslog", "cannot create a socket", errno);
	struct sockaddr_un sun = { .sun_family = AF_UNIX, .sun_path = SYSLOG_PATH };
	if (syscall(SYS_connect, fd, &sun, (socklen_t)sizeof(sun)) < 0) {
		int e = errno;
		bs_sys_close(fd);
		return fail(log, err, "syslog", "cannot connect to " SYSLOG_PATH, e);
	}
	log->io = BS_LOGIO_SYSLOG;
	log->fd = own_high(fd);
	return 0;
}

int bs_log_open(struct bs_log *log, const struct bs_global *g, const char *prog,
		struct bs_error *err)
{
	int saved = errno, rc = 0;
	log->kind = g->log_kind;
	log->fd = -1;
	log->via = false;
	log->path = NULL;
	atomic_init(&log->rotation_due, 0);
	log->io = BS_LOGIO_WRITE;
	atomic_init(&log->dropped, 0);
	size_t n = prog != NULL ? strnlen(prog, sizeof(log->prog) - 1) : 0;
	memcpy(log->prog, prog != NULL ? prog : "", n);
	log->prog[n] = '\0';
	switch (g->log_kind) {
	case BS_LOG_STDERR:
		/* A daemon started with fd 2 closed logs nothing, as it
		 * would print nothing: not a reason to refuse to run. */
		if (bs_sys_fcntl(STDERR_FILENO, F_GETFD, 0) >= 0 &&
		    !read_only(STDERR_FILENO))
			rc = open_inherited(log, STDERR_FILENO, "stderr", err);
		break;
	case BS_LOG_FD: {
		char sink[32] = "fd:";
		sink[3 + bs_fmt_u64(sink + 3, (uint64_t)(unsigned)g->log_fd)] = '\0';
		rc = g->log_fd < 0 ? fail(log, err, sink, "not a descriptor", 0) :
				     open_inherited(log, g->log_fd, sink, err);
		break;
	}
	case BS_LOG_FILE:
		rc = open_file(log, g->log_path, err);
		break;
	case BS_LOG_SYSLOG:
		rc = open_syslog(log, err);
		break;
	case BS_LOG_OFF:
		break;
	}
	errno = saved;
	return rc;
}

void bs_log_close(struct bs_log *log)
{
	int saved = errno;
	int fd = __atomic_exchange_n(&log->fd, -1, __ATOMIC_RELAXED);
	if (fd >= 0)
		bs_sys_close(fd);
	free(log->path);
	log->path = NULL;
	errno = saved;
}

int bs_log_move_to(struct bs_log *log, int min_fd)
{
	int saved = errno;
	int old = bs_log_fd(log), moved = -1;
	if (old >= 0) {
		moved = bs_sys_fcntl(old, F_DUPFD_CLOEXEC, min_fd > 0 ? min_fd : 0);
		__atomic_store_n(&log->fd, moved, __ATOMIC_RELAXED);
		bs_sys_close(old);
	}
	errno = saved;
	return moved;
}

int bs_log_move(struct bs_log *log)
{
	return bs_log_move_to(log, high_fd_floor());
}

/* A pipe whose reader is gone raises SIGPIPE on write, which would kill
 * the program. Hold SIGPIPE off in this thread for the write and take
 * back the one the write raised, unless one was already pending (signals
 * do not queue: then it is not ours to take). All of these calls are
 * async-signal-safe system calls. */
static ssize_t write_without_sigpipe(int fd, const char *buf, size_t len)
{
	sigset_t pipe_only, old, pending;
	sigemptyset(&pipe_only);
	sigaddset(&pipe_only, SIGPIPE);
	sigpending(&pending);
	bool was_pending = sigismember(&pending, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_only, &old);
	ssize_t n = bs_sys_write(fd, buf, len);
	if (n < 0 && errno == EPIPE && !was_pending) {
		struct timespec zero = { 0, 0 };
		sigtimedwait(&pipe_only, NULL, &zero);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return n;
}

/* One datagram: "<30>prog[pid]: " then the line without its newline.
 * The tag keeps only characters syslog parsers accept in it. */
static ssize_t send_syslog(const struct bs_log *log, int fd, const char *buf, size_t len)
{
	char head[sizeof(SYSLOG_PRI) + sizeof(log->prog) + 32];
	size_t n = sizeof(SYSLOG_PRI) - 1;
	memcpy(head, SYSLOG_PRI, n);
	for (const char *p = log->prog; *p != '\0'; p++) {
		char c = *p;
		bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			     (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
		head[n++] = plain ? c : '_';
	}
	head[n++] = '[';
	n += bs_fmt_u64(head + n, (uint64_t)getpid());
	memcpy(head + n, "]: ", 3);
	n += 3;
	struct iovec iov[2] = { { head, n }, { (void *)buf, len - 1 } };
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 2 };
	ssize_t sent = syscall(SYS_sendmsg, fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
	return sent == (ssize_t)(n + len - 1) ? (ssize_t)len : -1;
}

static bool names_file(int fd, uint64_t dev, uint64_t ino)
{
	struct stat st;
	return fstat(fd, &st) == 0 && st.st_dev == dev && st.st_ino == ino;
}

/* A descriptor for one line of the stderr sink that holds nothing: the
 * program's fd 2 reopened, if it still names the file it named at
 * start-up and is still open for writing (checked again on the new
 * descriptor, in case the program replaced fd 2 meanwhile); -1 when the
 * program has let go of it (the line is dropped). Four system calls a
 * line (fstat, fcntl, open, fstat) plus the close: lines are written on
 * decisions (retries, give-ups), never on a connect's fast path. */
static int open_via(const struct bs_log *log)
{
	if (!names_file(log->via_fd, log->via_dev, log->via_ino) || read_only(log->via_fd))
		return -1;
	int fd = reopen(log->via_fd);
	if (fd >= 0 && !names_file(fd, log->via_dev, log->via_ino)) {
		bs_sys_close(fd);
		return -1;
	}
	return fd;
}

int bs_log_write(struct bs_log *log, const char *buf, size_t len)
{
	int saved = errno;
	int fd = bs_log_fd(log);
	const bool via = fd < 0 && log->via && len > 0;
	if (via)
		fd = open_via(log);
	else if (fd >= 0 && log->path != NULL)
		follow_rotation(log, fd);
	ssize_t n = -1;
	if (fd >= 0 && len > 0) {
		switch (log->io) {
		case BS_LOGIO_WRITE:
			n = bs_sys_write(fd, buf, len);
			break;
		case BS_LOGIO_PIPE:
			n = write_without_sigpipe(fd, buf, len);
			break;
		case BS_LOGIO_SEND:
			n = bs_sys_send(fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
			break;
		case BS_LOGIO_SYSLOG:
			n = send_syslog(log, fd, buf, len);
			break;
		}
	}
	if (via && fd >= 0)
		bs_sys_close(fd);
	errno = saved;
	return n == (ssize_t)len;
}
