/* The names the program resolved (engine/names.h): found by any of a
 * lookup's addresses, v4-mapped as IPv4, the newest lookup of an address
 * wins, bounded (old lookups fall out), and readers racing writers never
 * see a torn name. */
#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "engine/names.h"
#include "tests/runner/bs_test.h"

static struct bs_ipaddr ip(const char *text)
{
	struct bs_ipaddr a;
	memset(&a, 0, sizeof a);
	a.family = strchr(text, ':') ? AF_INET6 : AF_INET;
	ck_assert_int_eq(inet_pton(a.family, text, a.bytes), 1);
	return a;
}

static const char *name_of(const char *text, char *buf, size_t cap)
{
	struct bs_ipaddr a = ip(text);
	return bs_names_find(&a, buf, cap, NULL, NULL) ? buf : NULL;
}

START_TEST(found_by_every_address)
{
	char buf[BS_HOST_MAX];
	bs_names_clear();
	struct bs_ipaddr addrs[] = { ip("::1"), ip("127.0.0.1"), ip("::1") };
	bs_names_remember("LocalHost.", addrs, 3);
	ck_assert_str_eq(name_of("::1", buf, sizeof buf), "localhost");
	ck_assert_str_eq(name_of("127.0.0.1", buf, sizeof buf), "localhost");
	ck_assert_ptr_null(name_of("127.0.0.2", buf, sizeof buf));

	/* The lookup's addresses, in its order, duplicates once. */
	struct bs_ipaddr got[BS_NAMES_ADDRS];
	size_t n = 0;
	struct bs_ipaddr one = ip("127.0.0.1");
	ck_assert(bs_names_find(&one, buf, sizeof buf, got, &n));
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(got[0].family, AF_INET6);
	ck_assert_int_eq(got[1].family, AF_INET);

	/* A short buffer gets a cut name. */
	ck_assert_str_eq(name_of("::1", buf, 4), "loc");
}
END_TEST

START_TEST(mapped_addresses_are_ipv4)
{
	char buf[BS_HOST_MAX];
	bs_names_clear();
	struct sockaddr_in6 in6 = { .sin6_family = AF_INET6 };
	inet_pton(AF_INET6, "::ffff:10.1.2.3", &in6.sin6_addr);
	struct bs_ipaddr a;
	ck_assert(bs_ipaddr_of((struct sockaddr *)&in6, sizeof in6, &a));
	ck_assert_int_eq(a.family, AF_INET);
	struct bs_ipaddr v4 = ip("10.1.2.3");
	bs_names_remember("db.internal", &v4, 1);
	ck_assert(bs_names_find(&a, buf, sizeof buf, NULL, NULL));
	ck_assert_str_eq(buf, "db.internal");
	ck_assert(!bs_ipaddr_of((struct sockaddr *)&in6, sizeof in6 - 1, &a));
}
END_TEST

START_TEST(newest_lookup_wins_and_old_ones_fall_out)
{
	char buf[BS_HOST_MAX], name[32];
	bs_names_clear();
	struct bs_ipaddr a = ip("10.0.0.1");
	bs_names_remember("old.example", &a, 1);
	bs_names_remember("new.example", &a, 1);
	ck_assert_str_eq(name_of("10.0.0.1", buf, sizeof buf), "new.example");
	/* Many more lookups than the ring holds: memory stays bounded and
	 * the first ones are gone, the latest are there. */
	for (int i = 0; i < 4 * BS_NAMES_LOOKUPS; i++) {
		struct bs_ipaddr b = ip("10.9.0.0");
		b.bytes[2] = (uint8_t)(i >> 8);
		b.bytes[3] = (uint8_t)i;
		snprintf(name, sizeof name, "host%d.example", i);
		bs_names_remember(name, &b, 1);
	}
	ck_assert_ptr_null(name_of("10.0.0.1", buf, sizeof buf));
	snprintf(name, sizeof name, "host%d.example", 4 * BS_NAMES_LOOKUPS - 1);
	struct bs_ipaddr last = ip("10.9.0.0");
	last.bytes[2] = (uint8_t)((4 * BS_NAMES_LOOKUPS - 1) >> 8);
	last.bytes[3] = (uint8_t)(4 * BS_NAMES_LOOKUPS - 1);
	ck_assert(bs_names_find(&last, buf, sizeof buf, NULL, NULL));
	ck_assert_str_eq(buf, name);
}
END_TEST

/* Writers keep re-recording two names of different lengths for one
 * address while readers look it up: a reader sees one of the two whole
 * names, or nothing, never a mix. */
static _Atomic int stop;

static void *writer(void *arg)
{
	struct bs_ipaddr a = ip("192.0.2.7");
	for (int i = 0; !stop; i++)
		bs_names_remember(i % 2 ? "short.example" : "a-much-longer-name.example", &a, 1);
	(void)arg;
	return NULL;
}

START_TEST(readers_never_see_a_torn_name)
{
	bs_names_clear();
	stop = 0;
	pthread_t w[2];
	for (int i = 0; i < 2; i++)
		pthread_create(&w[i], NULL, writer, NULL);
	int seen = 0;
	for (int i = 0; i < 200000; i++) {
		char buf[BS_HOST_MAX];
		if (name_of("192.0.2.7", buf, sizeof buf) == NULL)
			continue;
		seen++;
		ck_assert_msg(strcmp(buf, "short.example") == 0 ||
			      strcmp(buf, "a-much-longer-name.example") == 0, "torn: %s", buf);
	}
	stop = 1;
	for (int i = 0; i < 2; i++)
		pthread_join(w[i], NULL);
	ck_assert_int_gt(seen, 0);
}
END_TEST

BS_SUITE(names_suite)
{
	Suite *s = suite_create("names");
	TCase *tc = tcase_create("names");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, found_by_every_address);
	tcase_add_test(tc, mapped_addresses_are_ipv4);
	tcase_add_test(tc, newest_lookup_wins_and_old_ones_fall_out);
	tcase_add_test(tc, readers_never_see_a_torn_name);
	suite_add_tcase(s, tc);
	return s;
}
