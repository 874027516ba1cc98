/* Declared wrappers below the preload: [wrap] sections as the policy
 * stores them, and the engine's test of a return against retry_if and the
 * way a return is logged. */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <string.h>

#include "engine/wrap_retry.h"
#include "tests/runner/bs_test.h"
#include "tests/unit/test_policy_util.h"

static const struct bs_wrap *only_wrap(const struct bs_policy *p)
{
	ck_assert_uint_eq(p->n_wraps, 2);
	return &p->wraps[1];
}

START_TEST(signature_and_condition_are_stored)
{
	struct bs_policy *p = load_ok("[wrap \"recv_some\"]\n"
				      "returns = ssize_t\n"
				      "args = int, pointer, unsigned long, unsigned, double\n"
				      "retry_if = return == -1 and errno in EAGAIN EINTR\n"
				      "library = libfoo.so.1\n"
				      "attempts = 0\n", NULL);
	const struct bs_wrap *w = only_wrap(p);
	ck_assert_str_eq(w->symbol, "recv_some");
	ck_assert_int_eq(w->returns, BS_CT_SSIZE);
	ck_assert_uint_eq(w->n_args, 5);
	ck_assert_int_eq(w->args[2], BS_CT_ULONG);
	ck_assert_int_eq(w->args[3], BS_CT_UNSIGNED);
	ck_assert_int_eq(w->args[4], BS_CT_DOUBLE);
	ck_assert_int_eq(w->retry_if.op, BS_OP_EQ);
	ck_assert_int_eq(w->retry_if.values[0].kind, BS_CV_INT);
	ck_assert(w->retry_if.with_errno);
	ck_assert(bs_errset_has(&w->retry_if.errnos, EINTR));
	ck_assert(!bs_errset_has(&w->retry_if.errnos, EPERM));
	ck_assert_str_eq(w->library, "libfoo.so.1");
	ck_assert_uint_eq(w->attempts, 0);
	/* What a [wrap] does not set is the documented default. */
	ck_assert_uint_eq(w->deadline, 5 * BS_SEC);
	ck_assert_uint_eq(w->backoff.base, 10 * BS_MS);
	bs_policy_free(p);
}
END_TEST

START_TEST(void_args_and_empty_args_mean_none)
{
	struct bs_policy *p = load_ok("[wrap \"a\"]\nreturns = int\nargs = void\nretry_if = return != 0\n"
				      "[wrap \"b\"]\nreturns = int\nretry_if = return != 0\n", NULL);
	ck_assert_uint_eq(p->wraps[1].n_args, 0);
	ck_assert_uint_eq(p->wraps[2].n_args, 0);
	bs_policy_free(p);
}
END_TEST

START_TEST(bad_declarations_name_the_line)
{
	struct bs_error err;
	ck_assert_str_eq(load_err("[wrap \"f\"]\nreturns = int\nretry_if = return in\n", NULL, &err),
			 "policy.conf:3: [wrap \"f\"] retry_if: missing value after 'in' (use return OP "
			 "VALUES [and errno in NAMES], OP one of == != < <= > >= in; VALUES are integers, "
			 "numbers or null (e.g. return in 5 6, return == -1 and errno in EAGAIN, return == null))");
	ck_assert_ptr_nonnull(strstr(load_err("[wrap \"f\"]\nreturns = int\nretry_if = return == 1 2\n",
					      NULL, &err),
				     "policy.conf:3: [wrap \"f\"] retry_if: one value after the operator, then '2'"));
	ck_assert_ptr_nonnull(strstr(load_err("[wrap \"f\"]\nreturns = int\nargs = int, void\n"
					      "retry_if = return == 1\n", NULL, &err),
				     "policy.conf:3: [wrap \"f\"] args: void in args stands alone"));
	ck_assert_ptr_nonnull(strstr(load_err("[wrap \"f\"]\nreturns = int\nretry_if = return == 2147483648\n",
					      NULL, &err),
				     "the number does not fit the return type"));
	ck_assert_ptr_nonnull(strstr(load_err("[wrap \"f\"]\nreturns = int\nretry_if = return == 1.5\n",
					      NULL, &err),
				     "a number with a fraction is only for returns = double"));
	ck_assert_ptr_nonnull(strstr(load_err("[wrap \"f\"]\nreturns = int\nretry_if = return == 1\n"
					      "base = 2s\nmax_delay = 1s\n", NULL, &err),
				     "policy.conf:5: [wrap \"f\"] max_delay (1s) is less than base (2s)"));
}
END_TEST

static struct bs_wrap wrap_of(const char *decl)
{
	struct bs_policy *p = load_ok(decl, NULL);
	struct bs_wrap w = *only_wrap(p);
	bs_policy_free(p);
	return w;
}

START_TEST(returns_are_tested_by_their_type)
{
	struct bs_wrap w = wrap_of("[wrap \"f\"]\nreturns = int\nretry_if = return in 5 6\n");
	ck_assert(bs_wrap_should_retry(&w, (union bs_wrap_ret){ .i = 5 }, 0));
	ck_assert(bs_wrap_should_retry(&w, (union bs_wrap_ret){ .i = 6 }, 0));
	ck_assert(!bs_wrap_should_retry(&w, (union bs_wrap_ret){ .i = 0 }, 0));

	w = wrap_of("[wrap \"f\"]\nreturns = long\nretry_if = return == -1 and errno in EAGAIN\n");
	ck_assert(bs_wrap_should_retry(&w, (union bs_wrap_ret){ .i = -1 }, EAGAIN));
	ck_assert(!bs_wrap_should_retry(&w, (union bs_wrap_ret){ .i = -1 }, EPERM));
	ck_assert(!bs_wrap_should_retry(&w, (union bs_wrap_ret){ .i = 3 }, EAGAIN));

	w = wrap_of("[wrap \"f\"]\nreturns = uint64\nretry_if = return >= 18446744073709551615\n");
	ck_assert(bs_wrap_should_retry(&w, (union bs_wrap_ret){ .u = UINT64_MAX }, 0));
	ck_assert(!bs_wrap_should_retry(&w, (union bs_wrap_ret){ .u = 1 }, 0));

	w = wrap_of("[wrap \"f\"]\nreturns = pointer\nretry_if = return == null\n");
	ck_assert(bs_wrap_should_retry(&w, (union bs_wrap_ret){ .p = NULL }, 0));
	ck_assert(!bs_wrap_should_retry(&w, (union bs_wrap_ret){ .p = &w }, 0));

	w = wrap_of("[wrap \"f\"]\nreturns = double\nretry_if = return < 0.5\n");
	ck_assert(bs_wrap_should_retry(&w, (union bs_wrap_ret){ .d = 0.25 }, 0));
	ck_assert(!bs_wrap_should_retry(&w, (union bs_wrap_ret){ .d = NAN }, 0));
	ck_assert(!bs_wrap_should_retry(&w, (union bs_wrap_ret){ .d = 0.5 }, 0));
}
END_TEST

static const char *logged(enum bs_ctype t, union bs_wrap_ret r, struct bs_logline *line)
{
	bs_line_begin(line, NULL, "wrap.retry");
	bs_wrap_line_return(line, "return", t, r);
	line->buf[line->len] = '\0';
	return strstr(line->buf, "\"return\":");
}

START_TEST(returns_are_logged_as_json)
{
	struct bs_logline line;
	ck_assert_str_eq(logged(BS_CT_INT, (union bs_wrap_ret){ .i = -5 }, &line), "\"return\":-5");
	ck_assert_str_eq(logged(BS_CT_UINT64, (union bs_wrap_ret){ .u = UINT64_MAX }, &line),
			 "\"return\":18446744073709551615");
	ck_assert_str_eq(logged(BS_CT_POINTER, (union bs_wrap_ret){ .p = NULL }, &line), "\"return\":null");
	ck_assert_str_eq(logged(BS_CT_POINTER, (union bs_wrap_ret){ .p = (void *)0x7f00ab }, &line),
			 "\"return\":\"0x7f00ab\"");
	ck_assert_str_eq(logged(BS_CT_DOUBLE, (union bs_wrap_ret){ .d = -2.5 }, &line),
			 "\"return\":-2.500000");
	ck_assert_str_eq(logged(BS_CT_DOUBLE, (union bs_wrap_ret){ .d = INFINITY }, &line),
			 "\"return\":null");
}
END_TEST

BS_SUITE(wrap_suite)
{
	Suite *s = suite_create("wrap");
	TCase *tc = tcase_create("policy");
	tcase_add_test(tc, signature_and_condition_are_stored);
	tcase_add_test(tc, void_args_and_empty_args_mean_none);
	tcase_add_test(tc, bad_declarations_name_the_line);
	suite_add_tcase(s, tc);
	tc = tcase_create("engine");
	tcase_add_test(tc, returns_are_tested_by_their_type);
	tcase_add_test(tc, returns_are_logged_as_json);
	suite_add_tcase(s, tc);
	return s;
}
