/* Destinations as text: "1.2.3.4:80", "[::1]:80", "unix:/path",
 * "unix:@name" (abstract), "unix:" (unnamed). Formatting is
 * async-signal-safe: no stdio, no allocation, no locale. */
#include "policy/dest.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/un.h>

/* A bounded writer that never overruns and remembers overflow. */
struct out {
	char *buf;
	size_t cap, len;
	bool full;
};

static void put(struct out *o, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (o->len + 1 >= o->cap) {
			o->full = true;
			return;
		}
		o->buf[o->len++] = s[i];
	}
}

static void put_uint(struct out *o, unsigned v)
{
	char tmp[12];
	size_t n = 0;
	do
		tmp[sizeof tmp - ++n] = (char)('0' + v % 10);
	while ((v /= 10));
	put(o, tmp + sizeof tmp - n, n);
}

static void put_hex16(struct out *o, unsigned v)
{
	static const char digits[] = "0123456789abcdef";
	char tmp[4];
	size_t n = 0;
	do
		tmp[sizeof tmp - ++n] = digits[v & 15];
	while ((v >>= 4));
	put(o, tmp + sizeof tmp - n, n);
}

static void put_v4(struct out *o, const uint8_t *a)
{
	for (int i = 0; i < 4; i++) {
		if (i)
			put(o, ".", 1);
		put_uint(o, a[i]);
	}
}

/* RFC 5952: lower-case hex, the longest run (>= 2) of zero groups as
 * "::", the first such run on ties; ::ffff:a.b.c.d for mapped IPv4. */
static void put_v6(struct out *o, const uint8_t *a)
{
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	if (memcmp(a, mapped, 12) == 0) {
		put(o, "::ffff:", 7);
		put_v4(o, a + 12);
		return;
	}
	unsigned g[8];
	int best = -1, best_len = 1;
	for (int i = 0; i < 8; i++)
		g[i] = (unsigned)a[2 * i] << 8 | a[2 * i + 1];
	for (int i = 0; i < 8;) {
		int j = i;
		while (j < 8 && g[j] == 0)
			j++;
		if (j - i > best_len) {
			best = i;
			best_len = j - i;
		}
		i = j > i ? j : i + 1;
	}
	for (int i = 0; i < 8; i++) {
		if (i == best) {
			put(o, "::", 2);
			i += best_len - 1;
			continue;
		}
		if (i && i != best + best_len)
			put(o, ":", 1);
		put_hex16(o, g[i]);
	}
}

size_t bs_dest_format(char *buf, size_t cap, const struct sockaddr *sa,
		      socklen_t len)
{
	struct out o = {buf, cap, 0, false};
	if (cap == 0)
		return 0;
	sa_family_t family = sa && len >= sizeof(sa_family_t) ? sa->sa_family : AF_UNSPEC;
	if (family == AF_INET && len >= sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		put_v4(&o, (const uint8_t *)&in->sin_addr);
		put(&o, ":", 1);
		put_uint(&o, ntohs(in->sin_port));
	} else if (family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		put(&o, "[", 1);
		put_v6(&o, in6->sin6_addr.s6_addr);
		put(&o, "]:", 2);
		put_uint(&o, ntohs(in6->sin6_port));
	} else if (family == AF_UNIX) {
		const struct sockaddr_un *un = (const struct sockaddr_un *)sa;
		size_t off = offsetof(struct sockaddr_un, sun_path);
		size_t n = len > off ? len - off : 0;
		if (n > sizeof un->sun_path)
			n = sizeof un->sun_path;
		put(&o, "unix:", 5);
		if (n > 0 && un->sun_path[0] == '\0') {
			put(&o, "@", 1);
			put(&o, un->sun_path + 1, n - 1);
		} else {
			put(&o, un->sun_path, strnlen(un->sun_path, n));
		}
	} else {
		o.len = 0;
		put(&o, "?", 1);
		buf[o.len] = '\0';
		return 0;
	}
	buf[o.len] = '\0';
	return o.len;
}

/* ":PORT" or nothing (port 0) at s. */
static int parse_port(const char *s, uint16_t *port)
{
	unsigned v = 0;
	*port = 0;
	if (*s == '\0')
		return 0;
	if (*s++ != ':' || *s == '\0')
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || (v = v * 10 + (unsigned)(*s - '0')) > 65535)
			return -1;
	}
	*port = (uint16_t)v;
	return 0;
}

static int parse_unix(const char *path, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_un *un = (struct sockaddr_un *)ss;
	size_t n = strlen(path), off = offsetof(struct sockaddr_un, sun_path);
	un->sun_family = AF_UNIX;
	if (n > sizeof un->sun_path || (path[0] != '@' && path[0] != '/' && n))
		return -1;
	if (path[0] == '@') {
		un->sun_path[0] = '\0';
		memcpy(un->sun_path + 1, path + 1, n - 1);
		*len = (socklen_t)(off + n); /* abstract names are length-delimited */
	} else {
		if (n == sizeof un->sun_path)
			return -1; /* no room for the terminating NUL */
		memcpy(un->sun_path, path, n);
		*len = (socklen_t)(n ? off + n + 1 : sizeof(sa_family_t));
	}
	return 0;
}

int bs_dest_parse(const char *text, struct sockaddr_storage *ss,
		  socklen_t *len)
{
	char host[INET6_ADDRSTRLEN];
	uint16_t port;
	memset(ss, 0, sizeof *ss);
	if (strncmp(text, "unix:", 5) == 0)
		return parse_unix(text + 5, ss, len);
	const char *rest;
	size_t n;
	bool v6 = text[0] == '[';
	if (v6) {
		const char *close = strchr(text, ']');
		if (!close)
			return -1;
		n = (size_t)(close - text - 1);
		text++;
		rest = close + 1;
	} else {
		const char *colon = strchr(text, ':');
		v6 = colon && strchr(colon + 1, ':'); /* bare "::1": no port */
		n = v6 ? strlen(text) : strcspn(text, ":");
		rest = text + n;
	}
	if (n >= sizeof host)
		return -1;
	memcpy(host, text, n);
	host[n] = '\0';
	if (parse_port(rest, &port) != 0)
		return -1;
	if (v6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
		if (inet_pton(AF_INET6, host, &in6->sin6_addr) != 1)
			return -1;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		*len = sizeof *in6;
	} else {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;
		if (inet_pton(AF_INET, host, &in->sin_addr) != 1)
			return -1;
		in->sin_family = AF_INET;
		in->sin_port = htons(port);
		*len = sizeof *in;
	}
	return 0;
}
