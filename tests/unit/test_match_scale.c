/* Rule matching at scale: the hashed lookup of policy/match.c against a
 * reference that tries every pattern one by one (bs_patterns_contain),
 * over thousands of random rules and addresses; and the shortcut taken
 * when a policy has no [dest] rule at all; a 100,000-rule policy file. */
#include <arpa/inet.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "policy/dest.h"
#include "engine/rng.h"
#include "tests/runner/bs_test.h"
#include "tests/unit/test_policy_util.h"

/* What bs_policy_match must return, found the slow way: the longest
 * prefix, a port before none, the earliest rule on ties; for an
 * IPv4-mapped IPv6 address any IPv4 pattern before every IPv6 one. */
static uint32_t reference(const struct bs_policy *p, const struct sockaddr *sa, socklen_t len)
{
	uint32_t best = 0;
	int best_score = -1;
	for (uint32_t r = 1; r < p->n_rules; r++) {
		const struct bs_rule *rule = &p->rules[r];
		for (size_t i = 0; i < rule->n_match; i++) {
			const struct bs_pattern *pt = &rule->match[i];
			if (!bs_patterns_contain(pt, 1, sa, len))
				continue;
			int score = (pt->family != sa->sa_family ? 1000 : 0) + pt->prefix * 2 +
				    (pt->port != 0);
			if (score > best_score) {
				best_score = score;
				best = r;
			}
		}
	}
	return best;
}

/* A random network under 10.0.0.0/8 (IPv4) or fd00::/16 (IPv6) with one
 * of a few prefix lengths, host bits cleared, and sometimes a port. */
static void random_pattern(struct bs_rng *rng, bool v6, char *out, size_t cap)
{
	static const unsigned v4_prefixes[] = {8, 12, 16, 20, 24, 28, 32};
	static const unsigned v6_prefixes[] = {16, 32, 48, 64, 112, 128};
	uint8_t a[16] = {0};
	unsigned prefix;
	if (v6) {
		a[0] = 0xfd;
		for (int i = 2; i < 16; i++)
			a[i] = (uint8_t)bs_rng_below(rng, 4); /* few values: many hits */
		prefix = v6_prefixes[bs_rng_below(rng, 6)];
	} else {
		a[0] = 10;
		for (int i = 1; i < 4; i++)
			a[i] = (uint8_t)bs_rng_below(rng, 4);
		prefix = v4_prefixes[bs_rng_below(rng, 7)];
	}
	for (unsigned bit = prefix; bit < (v6 ? 128u : 32u); bit++)
		a[bit / 8] &= (uint8_t)~(0x80 >> (bit % 8));
	char host[INET6_ADDRSTRLEN];
	inet_ntop(v6 ? AF_INET6 : AF_INET, a, host, sizeof host);
	unsigned port = bs_rng_below(rng, 3) == 0 ? 0 : 5000 + (unsigned)bs_rng_below(rng, 3);
	char portpart[16] = "";
	if (port)
		snprintf(portpart, sizeof portpart, ":%u", port);
	if (v6)
		snprintf(out, cap, "[%s]/%u%s", host, prefix, portpart);
	else
		snprintf(out, cap, "%s/%u%s", host, prefix, portpart);
}

/* A random address near the patterns (same few byte values), so that most
 * lookups hit some rule at several prefix lengths. */
static socklen_t random_address(struct bs_rng *rng, int kind, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof *ss);
	uint16_t port = htons((uint16_t)(5000 + bs_rng_below(rng, 4)));
	if (kind == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;
		uint8_t *a = (uint8_t *)&in->sin_addr;
		a[0] = bs_rng_below(rng, 8) ? 10 : 11;
		for (int i = 1; i < 4; i++)
			a[i] = (uint8_t)bs_rng_below(rng, 4);
		in->sin_family = AF_INET;
		in->sin_port = port;
		return sizeof *in;
	}
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	uint8_t *a = in6->sin6_addr.s6_addr;
	if (kind == AF_UNSPEC) { /* IPv4-mapped */
		a[10] = a[11] = 0xff;
		a[12] = 10;
		for (int i = 13; i < 16; i++)
			a[i] = (uint8_t)bs_rng_below(rng, 4);
	} else {
		a[0] = 0xfd;
		for (int i = 2; i < 16; i++)
			a[i] = (uint8_t)bs_rng_below(rng, 4);
	}
	in6->sin6_family = AF_INET6;
	in6->sin6_port = port;
	return sizeof *in6;
}

START_TEST(hashed_lookup_agrees_with_trying_every_pattern)
{
	struct bs_rng rng;
	bs_rng_seed(&rng, 20261122 + (uint64_t)_i);
	size_t cap = 2000 * 160, len = 0;
	char *text = malloc(cap);
	ck_assert_ptr_nonnull(text);
	for (int r = 0; r < 2000; r++) {
		char a[80], b[80];
		random_pattern(&rng, r % 3 == 2, a, sizeof a);
		random_pattern(&rng, r % 5 == 4, b, sizeof b);
		len += (size_t)snprintf(text + len, cap - len, "[dest \"r%d\"]\nmatch = %s %s\n", r, a, b);
	}
	/* IPv4 patterns an IPv4-mapped address meets before any IPv6 one. */
	len += (size_t)snprintf(text + len, cap - len, "[dest \"mapped\"]\nmatch = ::ffff:0:0/96\n");
	struct bs_policy *p = load_ok(text, NULL);
	free(text);
	static const int kinds[] = {AF_INET, AF_INET6, AF_UNSPEC};
	unsigned hits = 0;
	for (int i = 0; i < 9000; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = random_address(&rng, kinds[i % 3], &ss);
		const struct bs_rule *got = bs_policy_match(p, (struct sockaddr *)&ss, sl);
		uint32_t want = reference(p, (struct sockaddr *)&ss, sl);
		ck_assert_ptr_nonnull(got);
		ck_assert_msg(got->index == want, "lookup %d: rule %u (%s), expected %u (%s)", i,
			      got->index, got->name, want, p->rules[want].name);
		hits += want != 0;
	}
	ck_assert_uint_gt(hits, 6000); /* the addresses really exercise the rules */
	bs_policy_free(p);
}
END_TEST

START_TEST(no_dest_rules_is_always_the_connect_rule)
{
	struct bs_policy *p = load_ok("[connect]\nattempts = 3\n", NULL);
	ck_assert_uint_eq(p->n_rules, 1);
	struct sockaddr_storage ss;
	socklen_t len;
	static const char *const dests[] = {"10.0.0.1:80", "[::1]:5", "[::ffff:1.2.3.4]:1",
					    "unix:/run/x.sock", "unix:@abs", "unix:"};
	for (size_t i = 0; i < sizeof dests / sizeof dests[0]; i++) {
		ck_assert_int_eq(bs_dest_parse(dests[i], &ss, &len), 0);
		ck_assert_ptr_eq(bs_policy_match(p, (struct sockaddr *)&ss, len), &p->rules[0]);
	}
	/* A short address of a managed family: still [connect]; others: none. */
	ck_assert_int_eq(bs_dest_parse("10.0.0.1:80", &ss, &len), 0);
	ck_assert_ptr_eq(bs_policy_match(p, (struct sockaddr *)&ss, 4), &p->rules[0]);
	struct sockaddr sa = {.sa_family = AF_PACKET};
	ck_assert_ptr_null(bs_policy_match(p, &sa, sizeof sa));
	ck_assert_ptr_null(bs_policy_match(p, NULL, 0));
	ck_assert_ptr_null(bs_policy_match(p, &sa, 1));
	bs_policy_free(p);
}
END_TEST

/* A 100,000-rule policy file loads, and every kind of pattern in it matches. */
#define MANY 100000

#define MANY 100000

START_TEST(hundred_thousand_rules)
{
	char dir[] = "/tmp/bs-policy-XXXXXX", path[64];
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/big.conf", dir);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("[connect]\nattempts = 2\n", f);
	/* Rule i: a.b.c.0/24 with a port for even i, plus a v6 /64 and a unix path. */
	for (unsigned i = 0; i < MANY; i++) {
		fprintf(f, "[dest \"r%u\"]\nmatch = %u.%u.%u.0/24%s [fd00:%x:%x::]/64 unix:/run/r%u.sock\n", i,
			10 + i / 65536, i / 256 % 256, i % 256, i % 2 ? "" : ":5432", i >> 16, i & 0xffff, i);
		if (i % 1000 == 0)
			fprintf(f, "max_conns = %u\n", i + 1);
	}
	fclose(f);
	struct bs_policy *p;
	struct bs_error err;
	struct bs_load_options o = {.path = path};
	ck_assert_msg(bs_policy_load(&o, &p, &err) == 0, "%s", err.msg);
	unlink(path);
	rmdir(dir);
	ck_assert_uint_eq(p->n_rules, MANY + 1);
	ck_assert(p->any_caps);
	for (unsigned i = 0; i < MANY; i += 997) {
		struct sockaddr_in in = {.sin_family = AF_INET, .sin_port = htons(5432)};
		in.sin_addr.s_addr = htonl((10 + i / 65536) << 24 | (i / 256 % 256) << 16 | (i % 256) << 8 | 7);
		const struct bs_rule *r = bs_policy_match(p, (struct sockaddr *)&in, sizeof in);
		ck_assert_uint_eq(r->index, i + 1);
		ck_assert_uint_eq(r->attempts, 2);
		struct sockaddr_in6 in6 = {.sin6_family = AF_INET6};
		in6.sin6_addr.s6_addr[0] = 0xfd;
		in6.sin6_addr.s6_addr[3] = (uint8_t)(i >> 16);
		in6.sin6_addr.s6_addr[4] = (uint8_t)(i >> 8);
		in6.sin6_addr.s6_addr[5] = (uint8_t)i;
		in6.sin6_addr.s6_addr[15] = 1;
		ck_assert_uint_eq(bs_policy_match(p, (struct sockaddr *)&in6, sizeof in6)->index, i + 1);
		struct sockaddr_un un = {.sun_family = AF_UNIX};
		int n = snprintf(un.sun_path, sizeof un.sun_path, "/run/r%u.sock", i);
		ck_assert_uint_eq(bs_policy_match(p, (struct sockaddr *)&un,
						  (socklen_t)(offsetof(struct sockaddr_un, sun_path) + (size_t)n + 1))->index,
				  i + 1);
	}
	struct sockaddr_in miss = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x0c000001)};
	ck_assert_uint_eq(bs_policy_match(p, (struct sockaddr *)&miss, sizeof miss)->index, 0);
	bs_policy_free(p);
}
END_TEST

BS_SUITE(match_scale_suite)
{
	Suite *s = suite_create("match_scale");
	TCase *tc = tcase_create("match_scale");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, hashed_lookup_agrees_with_trying_every_pattern, 0, 3);
	tcase_add_test(tc, no_dest_rules_is_always_the_connect_rule);
	suite_add_tcase(s, tc);
	tc = tcase_create("many_rules");
	tcase_set_timeout(tc, 120); /* a bound on quadratic work, not a measurement */
	tcase_add_test(tc, hundred_thousand_rules);
	suite_add_tcase(s, tc);
	return s;
}
