/* Cap keys (engine/capkey.c): outbound keys follow the rule's cap_scope,
 * an IPv4-mapped IPv6 address counts as IPv4, unix paths are hashed,
 * inbound keys go by client host or subnet, and every byte of a key is
 * set, so that keys compare with memcmp. */
#include <arpa/inet.h>
#include <string.h>
#include <sys/un.h>

#include "engine/caps.h"
#include "tests/runner/bs_test.h"

static struct sockaddr_in v4(const char *addr, uint16_t port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };
	ck_assert_int_eq(inet_pton(AF_INET, addr, &sin.sin_addr), 1);
	return sin;
}

static struct sockaddr_in6 v6(const char *addr, uint16_t port)
{
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6, .sin6_port = htons(port) };
	ck_assert_int_eq(inet_pton(AF_INET6, addr, &sin6.sin6_addr), 1);
	return sin6;
}

static struct bs_cap_key out_key(enum bs_cap_scope scope, uint32_t rule_index,
				 const void *sa, socklen_t len)
{
	struct bs_rule rule = { .index = rule_index, .cap_scope = scope };
	struct bs_cap_key key;
	memset(&key, 0xa5, sizeof key); /* every byte must be set */
	bs_cap_key_outbound(&key, &rule, sa, len);
	return key;
}

static bool same(struct bs_cap_key a, struct bs_cap_key b)
{
	return memcmp(&a, &b, sizeof a) == 0;
}

#define KEY(scope, rule, sa) out_key(scope, rule, &(sa), sizeof(sa))

START_TEST(outbound_keys_follow_the_scope)
{
	struct sockaddr_in a = v4("10.1.2.3", 5432), a2 = v4("10.1.2.3", 6379),
			   b = v4("10.1.2.4", 5432);
	ck_assert(!same(KEY(BS_SCOPE_DEST, 1, a), KEY(BS_SCOPE_DEST, 1, a2)));
	ck_assert(!same(KEY(BS_SCOPE_DEST, 1, a), KEY(BS_SCOPE_DEST, 1, b)));
	ck_assert(same(KEY(BS_SCOPE_HOST, 1, a), KEY(BS_SCOPE_HOST, 1, a2)));
	ck_assert(!same(KEY(BS_SCOPE_HOST, 1, a), KEY(BS_SCOPE_HOST, 1, b)));
	ck_assert(same(KEY(BS_SCOPE_RULE, 1, a), KEY(BS_SCOPE_RULE, 1, b)));
	ck_assert(!same(KEY(BS_SCOPE_RULE, 1, a), KEY(BS_SCOPE_RULE, 2, a)));
	ck_assert(!same(KEY(BS_SCOPE_DEST, 1, a), KEY(BS_SCOPE_DEST, 2, a)));
	struct bs_cap_key k = KEY(BS_SCOPE_DEST, 3, a);
	ck_assert_uint_eq(k.family, AF_INET);
	ck_assert_uint_eq(k.port, 5432);
	ck_assert_uint_eq(k.rule, 3);
}
END_TEST

START_TEST(v4_mapped_v6_counts_as_v4)
{
	struct sockaddr_in a = v4("192.0.2.7", 80);
	struct sockaddr_in6 m = v6("::ffff:192.0.2.7", 80), o = v6("2001:db8::7", 80);
	ck_assert(same(KEY(BS_SCOPE_DEST, 0, a), KEY(BS_SCOPE_DEST, 0, m)));
	ck_assert(!same(KEY(BS_SCOPE_DEST, 0, a), KEY(BS_SCOPE_DEST, 0, o)));
	ck_assert_uint_eq(KEY(BS_SCOPE_DEST, 0, o).family, AF_INET6);
}
END_TEST

static struct bs_cap_key unix_key(const char *path, bool abstract)
{
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	size_t n = strlen(path);
	memcpy(un.sun_path + abstract, path, n);
	socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + abstract + n +
				    !abstract); /* pathnames often include the NUL */
	return out_key(BS_SCOPE_DEST, 0, &un, len);
}

START_TEST(unix_keys_hash_the_path)
{
	ck_assert(same(unix_key("/run/a.sock", false), unix_key("/run/a.sock", false)));
	ck_assert(!same(unix_key("/run/a.sock", false), unix_key("/run/b.sock", false)));
	ck_assert(!same(unix_key("/run/a.sock", false), unix_key("/run/a.sock", true)));
	struct bs_cap_key k = unix_key("/run/a.sock", false);
	uint8_t zero[16] = { 0 };
	ck_assert_uint_eq(k.family, AF_UNIX);
	ck_assert_uint_eq(k.port, 0);
	ck_assert(memcmp(k.addr, zero, 16) != 0);
	/* the same path with or without its NUL counted in len */
	struct sockaddr_un un = { .sun_family = AF_UNIX, .sun_path = "/run/a.sock" };
	ck_assert(same(k, out_key(BS_SCOPE_DEST, 0, &un, sizeof un)));
}
END_TEST

static struct bs_cap_key in_key(enum bs_client_scope scope, const void *sa, socklen_t len)
{
	struct bs_cap_key key;
	memset(&key, 0x5a, sizeof key);
	bs_cap_key_inbound(&key, scope, sa, len);
	return key;
}

#define IKEY(scope, sa) in_key(scope, &(sa), sizeof(sa))

START_TEST(inbound_keys_by_host_or_subnet)
{
	struct sockaddr_in a = v4("198.51.100.7", 40000), a2 = v4("198.51.100.7", 40001),
			   b = v4("198.51.100.200", 40000), c = v4("198.51.101.7", 1);
	ck_assert(same(IKEY(BS_CLIENT_HOST, a), IKEY(BS_CLIENT_HOST, a2)));
	ck_assert(!same(IKEY(BS_CLIENT_HOST, a), IKEY(BS_CLIENT_HOST, b)));
	ck_assert(same(IKEY(BS_CLIENT_SUBNET, a), IKEY(BS_CLIENT_SUBNET, b)));
	ck_assert(!same(IKEY(BS_CLIENT_SUBNET, a), IKEY(BS_CLIENT_SUBNET, c)));
	ck_assert_uint_eq(IKEY(BS_CLIENT_HOST, a).rule, BS_CAP_RULE_INBOUND);
	struct sockaddr_in6 x = v6("2001:db8:1:2:aaaa::1", 1), y = v6("2001:db8:1:2:bbbb::9", 2),
			    z = v6("2001:db8:1:3::1", 1), m = v6("::ffff:198.51.100.9", 3);
	ck_assert(same(IKEY(BS_CLIENT_SUBNET, x), IKEY(BS_CLIENT_SUBNET, y)));
	ck_assert(!same(IKEY(BS_CLIENT_HOST, x), IKEY(BS_CLIENT_HOST, y)));
	ck_assert(!same(IKEY(BS_CLIENT_SUBNET, x), IKEY(BS_CLIENT_SUBNET, z)));
	ck_assert(same(IKEY(BS_CLIENT_SUBNET, a), IKEY(BS_CLIENT_SUBNET, m)));
	/* inbound and outbound keys never collide */
	ck_assert(!same(IKEY(BS_CLIENT_HOST, a), out_key(BS_SCOPE_HOST, 0, &a, sizeof a)));
}
END_TEST

START_TEST(short_addresses_only_set_the_family)
{
	struct sockaddr_in a = v4("10.0.0.1", 80);
	struct bs_cap_key k = out_key(BS_SCOPE_DEST, 0, &a, 4);
	uint8_t zero[16] = { 0 };
	ck_assert_uint_eq(k.family, AF_INET);
	ck_assert(memcmp(k.addr, zero, 16) == 0);
	ck_assert_uint_eq(k.port, 0);
}
END_TEST

BS_SUITE(capkey_suite)
{
	Suite *s = suite_create("capkey");
	TCase *tc = tcase_create("capkey");
	tcase_add_test(tc, outbound_keys_follow_the_scope);
	tcase_add_test(tc, v4_mapped_v6_counts_as_v4);
	tcase_add_test(tc, unix_keys_hash_the_path);
	tcase_add_test(tc, inbound_keys_by_host_or_subnet);
	tcase_add_test(tc, short_addresses_only_set_the_family);
	suite_add_tcase(s, tc);
	return s;
}
