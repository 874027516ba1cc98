/* A program that can be changed, using the backstop C API the way
 * docs/api.md shows: built by tests/integration/test_api.sh against the
 * INSTALLED header and backstop.pc only, then run; the test asserts on
 * what it prints.
 *
 *   api_demo POLICY DEST SEED RETRIES   prints the version, the rule for
 *       DEST and its settings, the delay schedule for SEED, and writes one
 *       connect.retry line to the policy's log
 *   api_demo --check POLICY            loads a policy; prints the error */
#include <backstop/backstop.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check(const char *path)
{
	char err[512];
	backstop_policy *p = backstop_policy_load(path, err, sizeof err);
	if (!p) {
		printf("error %s\n", err);
		return 1;
	}
	printf("ok %s\n", backstop_policy_source(p));
	backstop_policy_free(p);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--check") == 0)
		return check(argv[2]);
	if (argc != 5) {
		fprintf(stderr, "usage: api_demo POLICY DEST SEED RETRIES | --check POLICY\n");
		return 2;
	}
	printf("header %s library %s\n", BACKSTOP_VERSION, backstop_version());

	char err[512];
	backstop_policy *policy = backstop_policy_load(argv[1], err, sizeof err);
	if (!policy) {
		fprintf(stderr, "api_demo: %s\n", err);
		return 1;
	}
	const backstop_rule *rule = backstop_policy_match_dest(policy, argv[2]);
	if (!rule) {
		fprintf(stderr, "api_demo: not a destination: %s\n", argv[2]);
		return 1;
	}
	printf("rule %s attempts %u deadline_ms %llu base_ms %llu max_delay_ms %llu "
	       "max_conns %u retry_ECONNREFUSED %d retry_EACCES %d\n",
	       backstop_rule_name(rule), backstop_rule_attempts(rule),
	       (unsigned long long)backstop_rule_deadline_ms(rule),
	       (unsigned long long)backstop_rule_base_ms(rule),
	       (unsigned long long)backstop_rule_max_delay_ms(rule),
	       backstop_rule_max_conns(rule),
	       backstop_rule_retryable(rule, ECONNREFUSED),
	       backstop_rule_retryable(rule, EACCES));

	backstop_rng rng;
	backstop_rng_seed(&rng, strtoull(argv[3], NULL, 10));
	backstop_backoff state = { 0 };
	unsigned retries = (unsigned)atoi(argv[4]);
	double last = 0;
	printf("delays");
	for (unsigned n = 1; n <= retries; n++) {
		last = backstop_next_delay_ms(rule, n, &state, &rng);
		printf(" %.3f", last);
	}
	printf("\n");

	backstop_log *log = backstop_log_open(policy, "api_demo", err, sizeof err);
	if (!log) {
		fprintf(stderr, "api_demo: log: %s\n", err);
		return 1;
	}
	backstop_field fields[] = {
		BACKSTOP_INT("fd", 3),
		BACKSTOP_STR("dest", argv[2]),
		BACKSTOP_STR("rule", backstop_rule_name(rule)),
		BACKSTOP_INT("attempt", 1),
		BACKSTOP_INT("attempts", backstop_rule_attempts(rule)),
		BACKSTOP_ERRNO("errno", ECONNREFUSED),
		BACKSTOP_MS("delay_ms", last),
		BACKSTOP_MS("deadline_left_ms", (double)backstop_rule_deadline_ms(rule)),
		BACKSTOP_STR("note", "quote \" backslash \\ newline \n"),
	};
	int rc = backstop_log_event(log, "connect.retry", fields,
				    sizeof fields / sizeof fields[0]);
	printf("logged %d\n", rc);
	backstop_log_close(log);
	backstop_policy_free(policy);
	return rc == 0 ? 0 : 1;
}
