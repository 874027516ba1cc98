/* A client that connects once and reports exactly what connect returned,
 * and whether backstop left the program's state alone.
 *
 *   conn_client [-n] [-s MS] [-e ERRNO] [-2] [-w] [-i] DEST
 *
 * DEST is IPV4:PORT or unix:PATH. -n: nonblocking socket. -s: set
 * SO_SNDTIMEO to MS first. -e: set errno to ERRNO before connect (to see
 * it survive a success). -2: connect a second time and report that one
 * (EISCONN). -w: use an AF_INET6 socket for an AF_INET address
 * (EAFNOSUPPORT). -i: handle SIGUSR1 without SA_RESTART and SIGUSR2 with
 * it, and print our pid first, so a test can interrupt the call.
 *
 * Prints one line: "result=ok|ENAME errno_kept=yes|no flags_kept=yes|no
 * sndtimeo_kept=yes|no signals=N". Exit 0 when connect succeeded. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

static volatile sig_atomic_t signals;

static void on_signal(int sig)
{
	(void)sig;
	signals++;
}

static const char *errname(int err)
{
	switch (err) {
	case 0: return "ok";
	case ECONNREFUSED: return "ECONNREFUSED";
	case ETIMEDOUT: return "ETIMEDOUT";
	case EINPROGRESS: return "EINPROGRESS";
	case EINTR: return "EINTR";
	case EISCONN: return "EISCONN";
	case EAFNOSUPPORT: return "EAFNOSUPPORT";
	case ENOENT: return "ENOENT";
	case EACCES: return "EACCES";
	case EPERM: return "EPERM";
	case EAGAIN: return "EAGAIN";
	case EALREADY: return "EALREADY";
	case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
	case EINVAL: return "EINVAL";
	case EPROTOTYPE: return "EPROTOTYPE";
	case ENETUNREACH: return "ENETUNREACH";
	default: return strerror(err);
	}
}

static socklen_t parse_dest(const char *text, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof *ss);
	if (strncmp(text, "unix:", 5) == 0) {
		struct sockaddr_un *un = (struct sockaddr_un *)ss;
		un->sun_family = AF_UNIX;
		snprintf(un->sun_path, sizeof un->sun_path, "%s", text + 5);
		return sizeof *un;
	}
	char host[64];
	const char *colon = strrchr(text, ':');
	if (colon == NULL || (size_t)(colon - text) >= sizeof host)
		return 0;
	memcpy(host, text, (size_t)(colon - text));
	host[colon - text] = '\0';
	struct sockaddr_in *in = (struct sockaddr_in *)ss;
	in->sin_family = AF_INET;
	in->sin_port = htons((unsigned short)atoi(colon + 1));
	return inet_pton(AF_INET, host, &in->sin_addr) == 1 ? sizeof *in : 0;
}

int main(int argc, char **argv)
{
	bool nonblocking = false, twice = false, wrong_family = false, interruptible = false;
	long sndtimeo_ms = -1;
	int preset_errno = 0, opt;
	while ((opt = getopt(argc, argv, "ns:e:2wi")) != -1) {
		switch (opt) {
		case 'n': nonblocking = true; break;
		case 's': sndtimeo_ms = atol(optarg); break;
		case 'e': preset_errno = atoi(optarg); break;
		case '2': twice = true; break;
		case 'w': wrong_family = true; break;
		case 'i': interruptible = true; break;
		default: return 2;
		}
	}
	struct sockaddr_storage ss;
	socklen_t len = optind < argc ? parse_dest(argv[optind], &ss) : 0;
	if (len == 0) {
		fprintf(stderr, "usage: conn_client [-n] [-s MS] [-e ERRNO] [-2] [-w] [-i] DEST\n");
		return 2;
	}
	if (interruptible) {
		struct sigaction plain = { .sa_handler = on_signal };
		struct sigaction restarting = { .sa_handler = on_signal, .sa_flags = SA_RESTART };
		sigaction(SIGUSR1, &plain, NULL);
		sigaction(SIGUSR2, &restarting, NULL);
		printf("pid=%d\n", getpid());
		fflush(stdout);
	}
	int family = ss.ss_family;
	if (wrong_family) { /* long enough for an IPv6 socket to look at the family */
		family = AF_INET6;
		len = sizeof(struct sockaddr_in6);
	}
	int fd = socket(family, SOCK_STREAM | (nonblocking ? SOCK_NONBLOCK : 0), 0);
	if (fd < 0) {
		perror("socket");
		return 2;
	}
	if (sndtimeo_ms >= 0) {
		struct timeval tv = { sndtimeo_ms / 1000, (sndtimeo_ms % 1000) * 1000 };
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	}
	int flags_before = fcntl(fd, F_GETFL);
	struct timeval tv_before, tv_after;
	socklen_t tl = sizeof tv_before;
	getsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv_before, &tl);

	int rc = -1, err = 0;
	for (int i = 0; i < (twice ? 2 : 1); i++) {
		errno = preset_errno;
		rc = connect(fd, (struct sockaddr *)&ss, len);
		err = errno;
	}
	tl = sizeof tv_after;
	getsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv_after, &tl);
	printf("result=%s errno_kept=%s flags_kept=%s sndtimeo_kept=%s signals=%d\n",
	       errname(rc == 0 ? 0 : err), err == preset_errno ? "yes" : "no",
	       fcntl(fd, F_GETFL) == flags_before ? "yes" : "no",
	       memcmp(&tv_before, &tv_after, sizeof tv_after) == 0 ? "yes" : "no",
	       (int)signals);
	return rc == 0 ? 0 : 1;
}
