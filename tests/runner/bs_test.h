/* Registration of Check suites: every test file declares its suites with
 * BS_SUITE and the single runner (tests/runner/main.c) runs them all, so
 * `make check` ends in one Check summary line. */
#ifndef BS_TEST_H
#define BS_TEST_H

#include <check.h>

typedef Suite *(*bs_suite_fn)(void);
void bs_register_suite(bs_suite_fn make);

/* The integration scripts (tests/integration/test_*.sh), run last. */
Suite *bs_integration_suite(void);

#define BS_SUITE(fn)                                                   \
	static Suite *fn(void);                                        \
	__attribute__((constructor)) static void fn##_register(void)   \
	{                                                              \
		bs_register_suite(fn);                                 \
	}                                                              \
	static Suite *fn(void)

#endif
