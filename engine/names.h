/* The names the program resolved, remembered by address: each successful
 * lookup (getaddrinfo, gethostbyname...) records its name and addresses,
 * so that a later connect to one of those addresses knows the name (rules
 * by name, `name` in log lines) and the name's other addresses (failover).
 *
 * Bounded memory: a fixed ring of the latest BS_NAMES_LOOKUPS lookups and
 * a fixed address index; older lookups are overwritten. Recording and
 * finding take no lock and allocate nothing (a seqlock per lookup, the
 * index one atomic word per entry), so both may run on the connect path,
 * in any thread, and in a signal handler. A reader that races a writer of
 * the same slot finds nothing rather than a torn name. */
#ifndef BS_NAMES_H
#define BS_NAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define BS_NAMES_LOOKUPS 128 /* lookups remembered */
#define BS_NAMES_ADDRS 8     /* addresses kept per lookup, in the lookup's order */
#define BS_HOST_MAX 256      /* a host name (253 characters) with its NUL */

/* An IP address without port: AF_INET (first 4 bytes) or AF_INET6.
 * A v4-mapped IPv6 address is kept as the AF_INET address it maps. */
struct bs_ipaddr {
	sa_family_t family;
	uint8_t bytes[16];
};

/* The address of sa (AF_INET or AF_INET6, v4-mapped unmapped); false for
 * anything else. */
bool bs_ipaddr_of(const struct sockaddr *sa, socklen_t len, struct bs_ipaddr *out);

/* Remember that `name` resolved to addrs[0..n) (at most BS_NAMES_ADDRS
 * are kept; duplicates once). The name is stored lower-case, without a
 * trailing dot, cut at BS_HOST_MAX - 1 characters. */
void bs_names_remember(const char *name, const struct bs_ipaddr *addrs, size_t n);

/* The name of the latest remembered lookup that returned addr: copied to
 * name[cap] (cap >= 1), and, when addrs is not NULL, that lookup's
 * addresses to addrs[BS_NAMES_ADDRS] with their count in *n. False when
 * no remembered lookup holds addr. */
bool bs_names_find(const struct bs_ipaddr *addr, char *name, size_t cap,
		   struct bs_ipaddr *addrs, size_t *n);

/* Forget everything (tests). Not safe against concurrent use. */
void bs_names_clear(void);

#endif
