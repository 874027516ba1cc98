/* The ranges close_range and closefrom close around backstop's private
 * descriptors (preload/fdgaps.h): every number of [lo, hi] but the
 * skipped ones is covered exactly once, including at the edges and at
 * hi = UINT_MAX (closefrom). */
#include <limits.h>

#include "preload/fdgaps.h"
#include "tests/runner/bs_test.h"

#define MAX_GAPS 8

static unsigned gaps(unsigned lo, unsigned hi, const int *skip, unsigned n,
		     struct bs_fd_range *out)
{
	ck_assert_uint_lt(n, MAX_GAPS);
	return bs_fd_gaps(lo, hi, skip, n, out);
}

static void assert_range(const struct bs_fd_range *r, unsigned lo, unsigned hi)
{
	ck_assert_uint_eq(r->lo, lo);
	ck_assert_uint_eq(r->hi, hi);
}

START_TEST(nothing_skipped_is_one_range)
{
	struct bs_fd_range out[MAX_GAPS];
	ck_assert_uint_eq(gaps(3, 10, NULL, 0, out), 1);
	assert_range(&out[0], 3, 10);
	ck_assert_uint_eq(gaps(7, 7, NULL, 0, out), 1);
	assert_range(&out[0], 7, 7);
}
END_TEST

START_TEST(one_skipped_in_the_middle_splits_in_two)
{
	struct bs_fd_range out[MAX_GAPS];
	ck_assert_uint_eq(gaps(3, 10, (int[]){ 6 }, 1, out), 2);
	assert_range(&out[0], 3, 5);
	assert_range(&out[1], 7, 10);
}
END_TEST

START_TEST(skipped_at_the_edges_leave_no_empty_range)
{
	struct bs_fd_range out[MAX_GAPS];
	ck_assert_uint_eq(gaps(3, 10, (int[]){ 3, 10 }, 2, out), 1);
	assert_range(&out[0], 4, 9);
	/* adjacent skips: nothing between them */
	ck_assert_uint_eq(gaps(3, 10, (int[]){ 5, 6, 7 }, 3, out), 2);
	assert_range(&out[0], 3, 4);
	assert_range(&out[1], 8, 10);
	/* the whole range skipped */
	ck_assert_uint_eq(gaps(4, 5, (int[]){ 4, 5 }, 2, out), 0);
}
END_TEST

START_TEST(skips_outside_the_range_are_ignored)
{
	struct bs_fd_range out[MAX_GAPS];
	ck_assert_uint_eq(gaps(10, 20, (int[]){ -1, 2, 15, 900 }, 4, out), 2);
	assert_range(&out[0], 10, 14);
	assert_range(&out[1], 16, 20);
}
END_TEST

START_TEST(closefrom_reaches_uint_max)
{
	struct bs_fd_range out[MAX_GAPS];
	ck_assert_uint_eq(gaps(3, UINT_MAX, (int[]){ 900, INT_MAX }, 2, out), 3);
	assert_range(&out[0], 3, 899);
	assert_range(&out[1], 901, (unsigned)INT_MAX - 1);
	assert_range(&out[2], (unsigned)INT_MAX + 1, UINT_MAX);
	ck_assert_uint_eq(gaps(UINT_MAX, UINT_MAX, NULL, 0, out), 1);
	assert_range(&out[0], UINT_MAX, UINT_MAX);
}
END_TEST

START_TEST(an_empty_range_has_no_gaps)
{
	struct bs_fd_range out[MAX_GAPS];
	ck_assert_uint_eq(gaps(10, 9, (int[]){ 9 }, 1, out), 0);
}
END_TEST

BS_SUITE(fdgaps_suite)
{
	Suite *s = suite_create("fdgaps");
	TCase *tc = tcase_create("fdgaps");
	tcase_add_test(tc, nothing_skipped_is_one_range);
	tcase_add_test(tc, one_skipped_in_the_middle_splits_in_two);
	tcase_add_test(tc, skipped_at_the_edges_leave_no_empty_range);
	tcase_add_test(tc, skips_outside_the_range_are_ignored);
	tcase_add_test(tc, closefrom_reaches_uint_max);
	tcase_add_test(tc, an_empty_range_has_no_gaps);
	suite_add_tcase(s, tc);
	return s;
}
