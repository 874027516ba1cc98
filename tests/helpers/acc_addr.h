/* The address options that acc_client and acc_server share, so the two
 * ends of the cap tests always agree: -6 (the IPv6 loopback), -u PATH (a
 * unix socket), the IPv4 loopback otherwise. Header-only: each helper is
 * one program built from one .c file. */
#ifndef ACC_ADDR_H
#define ACC_ADDR_H

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

struct acc_where {
	int family;
	const char *path; /* AF_UNIX only */
};

#define ACC_WHERE_OPTS "6u:"
#define ACC_WHERE_USAGE "[-6 | -u PATH]"

/* Takes a getopt option of ACC_WHERE_OPTS; false for any other one. */
static inline bool acc_where_opt(struct acc_where *w, int opt, const char *arg)
{
	if (opt == '6')
		w->family = AF_INET6;
	else if (opt == 'u')
		*w = (struct acc_where){AF_UNIX, arg};
	else
		return false;
	return true;
}

/* The socket address of w with port (host order; ignored for unix). */
static inline socklen_t acc_where_addr(const struct acc_where *w, int port,
				       struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof *ss);
	if (w->family == AF_INET6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		in6->sin6_addr = in6addr_loopback;
		return sizeof *in6;
	}
	if (w->family == AF_UNIX) {
		struct sockaddr_un *un = (struct sockaddr_un *)ss;
		un->sun_family = AF_UNIX;
		snprintf(un->sun_path, sizeof un->sun_path, "%s", w->path);
		return sizeof *un;
	}
	struct sockaddr_in *in = (struct sockaddr_in *)ss;
	in->sin_family = AF_INET;
	in->sin_port = htons((uint16_t)port);
	in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return sizeof *in;
}

#endif
