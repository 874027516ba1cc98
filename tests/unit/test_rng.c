/* The generator: reproducible per seed, distinct streams, unbiased range. */
#include <stdint.h>

#include "engine/rng.h"
#include "tests/runner/bs_test.h"

START_TEST(same_seed_same_stream)
{
	struct bs_rng a, b;
	bs_rng_seed(&a, 42);
	bs_rng_seed(&b, 42);
	for (int i = 0; i < 1000; i++)
		ck_assert_uint_eq(bs_rng_next(&a), bs_rng_next(&b));
}
END_TEST

/* Reference values from an independent implementation of splitmix64
 * and xoshiro256** (Python, following the authors' C code). */
START_TEST(matches_reference_output)
{
	struct bs_rng r;
	bs_rng_seed(&r, 0);
	ck_assert_uint_eq(r.s[0], 0xe220a8397b1dcdafull);
	ck_assert_uint_eq(r.s[1], 0x6e789e6aa1b965f4ull);
	ck_assert_uint_eq(r.s[2], 0x06c45d188009454full);
	ck_assert_uint_eq(r.s[3], 0xf88bb8a8724c81ecull);
	ck_assert_uint_eq(bs_rng_next(&r), 0x99ec5f36cb75f2b4ull);
	ck_assert_uint_eq(bs_rng_next(&r), 0xbf6e1f784956452aull);
	ck_assert_uint_eq(bs_rng_next(&r), 0x1a5f849d4933e6e0ull);
}
END_TEST

static int streams_share_values(uint64_t seed_a, uint64_t seed_b)
{
	struct bs_rng a, b;
	bs_rng_seed(&a, seed_a);
	bs_rng_seed(&b, seed_b);
	int same = 0;
	for (int i = 0; i < 100; i++)
		same += bs_rng_next(&a) == bs_rng_next(&b);
	return same;
}

START_TEST(nearby_seeds_differ)
{
	ck_assert_int_eq(streams_share_values(1, 2), 0);
	ck_assert_int_eq(streams_share_values(0, 1), 0);
}
END_TEST

START_TEST(derive_gives_distinct_reproducible_streams)
{
	uint64_t seeds[64];
	for (int i = 0; i < 64; i++) {
		seeds[i] = bs_rng_derive(7, (uint64_t)i);
		ck_assert_uint_eq(seeds[i], bs_rng_derive(7, (uint64_t)i));
		ck_assert_uint_ne(seeds[i], 7);
		for (int j = 0; j < i; j++)
			ck_assert_uint_ne(seeds[i], seeds[j]);
	}
	ck_assert_int_eq(streams_share_values(seeds[0], seeds[1]), 0);
	ck_assert_uint_ne(bs_rng_derive(7, 0), bs_rng_derive(8, 0));
}
END_TEST

START_TEST(below_bounds_and_edges)
{
	struct bs_rng r;
	bs_rng_seed(&r, 3);
	ck_assert_uint_eq(bs_rng_below(&r, 0), 0);
	ck_assert_uint_eq(bs_rng_below(&r, 1), 0);
	uint64_t odd = (UINT64_MAX / 3) * 2 + 1; /* worst case for rejection */
	for (int i = 0; i < 10000; i++) {
		ck_assert_uint_lt(bs_rng_below(&r, 7), 7);
		ck_assert_uint_lt(bs_rng_below(&r, odd), odd);
	}
}
END_TEST

/* Chi-square over 10 buckets, 100,000 draws, fixed seed: a biased or
 * broken reduction (e.g. modulo of a small value) fails this. The 99.9%
 * point of chi-square with 9 degrees of freedom is 27.88. */
START_TEST(below_is_roughly_uniform)
{
	struct bs_rng r;
	bs_rng_seed(&r, 12345);
	enum { BUCKETS = 10, DRAWS = 100000 };
	long count[BUCKETS] = { 0 };
	for (int i = 0; i < DRAWS; i++)
		count[bs_rng_below(&r, BUCKETS)]++;
	double expected = (double)DRAWS / BUCKETS, chi2 = 0;
	for (int b = 0; b < BUCKETS; b++)
		chi2 += (count[b] - expected) * (count[b] - expected) / expected;
	ck_assert_double_lt(chi2, 27.88);
}
END_TEST

START_TEST(kernel_seeds_differ)
{
	uint64_t a = bs_rng_kernel_seed(), b = bs_rng_kernel_seed();
	ck_assert_uint_ne(a, b);
}
END_TEST

BS_SUITE(rng_suite)
{
	Suite *s = suite_create("rng");
	TCase *tc = tcase_create("rng");
	tcase_add_test(tc, same_seed_same_stream);
	tcase_add_test(tc, matches_reference_output);
	tcase_add_test(tc, nearby_seeds_differ);
	tcase_add_test(tc, derive_gives_distinct_reproducible_streams);
	tcase_add_test(tc, below_bounds_and_edges);
	tcase_add_test(tc, below_is_roughly_uniform);
	tcase_add_test(tc, kernel_seeds_differ);
	suite_add_tcase(s, tc);
	return s;
}
