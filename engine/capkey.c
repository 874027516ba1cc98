/* Cap keys: what a connection is counted against (see caps.h).
 * An IPv4-mapped IPv6 address counts as the IPv4 address it carries, so
 * a dual-stack program cannot double its share by switching families. */
#include <netinet/in.h>
#include <stddef.h>
#include <string.h>
#include <sys/un.h>

#include "engine/caps.h"

/* FNV-1a, 128 bits: a unix socket path (or abstract name) folded into the
 * 16 address bytes. Collisions need ~2^64 paths. */
static void hash_path(uint8_t out[16], const char *path, size_t len)
{
	const unsigned __int128 prime =
		((unsigned __int128)1 << 88) + 0x13b;
	unsigned __int128 h = ((unsigned __int128)0x6c62272e07bb0142u << 64) |
			      0x62b821756295c58du;
	for (size_t i = 0; i < len; i++) {
		h ^= (uint8_t)path[i];
		h *= prime;
	}
	for (int i = 15; i >= 0; i--, h >>= 8)
		out[i] = (uint8_t)h;
}

/* Fill family, addr and port from sa. An address too short for its family
 * (or of another family) leaves only the family set. */
static inline __attribute__((always_inline)) void
key_address(struct bs_cap_key *key, const struct sockaddr *sa, socklen_t len)
{
	if (sa == NULL || len < (socklen_t)sizeof(sa_family_t))
		return;
	key->family = sa->sa_family;
	if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		memcpy(key->addr, &in->sin_addr, 4);
		key->port = ntohs(in->sin_port);
	} else if (sa->sa_family == AF_INET6 &&
		   len >= (socklen_t)sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
			key->family = AF_INET;
			memcpy(key->addr, &in6->sin6_addr.s6_addr[12], 4);
		} else {
			memcpy(key->addr, &in6->sin6_addr, 16);
		}
		key->port = ntohs(in6->sin6_port);
	} else if (sa->sa_family == AF_UNIX) {
		const struct sockaddr_un *un = (const struct sockaddr_un *)sa;
		size_t n = (size_t)len - offsetof(struct sockaddr_un, sun_path);
		if (n > sizeof un->sun_path)
			n = sizeof un->sun_path;
		/* A pathname ends at its NUL; an abstract name (leading NUL)
		 * is exactly n bytes. */
		if (n > 0 && un->sun_path[0] != '\0')
			n = strnlen(un->sun_path, n);
		hash_path(key->addr, un->sun_path, n);
	}
}

void bs_cap_key_outbound(struct bs_cap_key *key, const struct bs_rule *rule,
			 const struct sockaddr *sa, socklen_t len)
{
	memset(key, 0, sizeof *key);
	key->rule = rule->index;
	if (rule->cap_scope == BS_SCOPE_RULE)
		return;
	key_address(key, sa, len);
	if (rule->cap_scope == BS_SCOPE_HOST)
		key->port = 0;
}

void bs_cap_key_inbound(struct bs_cap_key *key, enum bs_client_scope scope,
			const struct sockaddr *sa, socklen_t len)
{
	memset(key, 0, sizeof *key);
	key->rule = BS_CAP_RULE_INBOUND;
	key_address(key, sa, len);
	key->port = 0;
	if (scope != BS_CLIENT_SUBNET)
		return;
	if (key->family == AF_INET)
		key->addr[3] = 0;                 /* /24 */
	else if (key->family == AF_INET6)
		memset(key->addr + 8, 0, 8);      /* /64 */
}
