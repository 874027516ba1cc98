/* The one test runner: every registered unit suite, then the integration
 * scripts (integration.c). Select parts with Check's CK_RUN_SUITE and
 * CK_RUN_CASE; CK_VERBOSITY=verbose lists every test. */
#include <stdio.h>
#include <stdlib.h>

#include "tests/runner/bs_test.h"

#define MAX_SUITES 128

static bs_suite_fn suites[MAX_SUITES];
static int n_suites;

void bs_register_suite(bs_suite_fn make)
{
	if (n_suites == MAX_SUITES) {
		fprintf(stderr, "runner: more than %d suites\n", MAX_SUITES);
		exit(2);
	}
	suites[n_suites++] = make;
}

int main(void)
{
	SRunner *runner = srunner_create(NULL);
	for (int i = 0; i < n_suites; i++)
		srunner_add_suite(runner, suites[i]());
	srunner_add_suite(runner, bs_integration_suite());
	srunner_run_all(runner, CK_ENV);
	int failed = srunner_ntests_failed(runner);
	srunner_free(runner);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
