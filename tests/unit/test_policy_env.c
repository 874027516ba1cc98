/* The environment on top of the policy file: BACKSTOP_* overrides and dest
 * rules, their errors (the variable named), short and long forms, and
 * secure mode, which ignores them. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy/policy.h"
#include "tests/runner/bs_test.h"
#include "tests/unit/test_policy_util.h"

START_TEST(env_overrides_file)
{
	char *env[] = {"BACKSTOP_CONNECT_DEADLINE=3s", "BACKSTOP_SLEEP_MODE=off",
		       "BACKSTOP_ACCEPT_MAX_PER_CLIENT=3", "BACKSTOP_GLOBAL_LOG=fd:9",
		       "BACKSTOP_SEED=12345", "BACKSTOP_CONNECT_RETRY_ON=ECONNRESET,EPIPE",
		       "PATH=/bin", "BACKSTOP_TEST_ANYTHING=whatever", NULL};
	struct bs_policy *p = load_ok("[connect]\ndeadline = 20s\nattempts = 2\n"
				      "[dest \"db\"]\nmatch = ::1\n", env);
	ck_assert_uint_eq(p->rules[0].deadline, 3 * BS_SEC);
	ck_assert_uint_eq(p->rules[0].attempts, 2);
	ck_assert_uint_eq(p->rules[1].deadline, 3 * BS_SEC); /* inherits the override */
	ck_assert_int_eq(p->sleep.mode, BS_SLEEP_OFF);
	ck_assert_uint_eq(p->accept.max_per_client, 3);
	ck_assert_int_eq(p->global.log_kind, BS_LOG_FD);
	ck_assert_int_eq(p->global.log_fd, 9);
	ck_assert_uint_eq(p->global.seed, 12345);
	ck_assert(bs_errset_has(&p->rules[0].retry_on, EPIPE));
	ck_assert(!bs_errset_has(&p->rules[0].retry_on, ECONNREFUSED));
	ck_assert_ptr_nonnull(strstr(p->source, "policy.conf+env"));
	bs_policy_free(p);
}
END_TEST

START_TEST(env_dest_rules)
{
	char *env[] = {"BACKSTOP_DEST_DB_MAIN_MAX_CONNS=20", "BACKSTOP_DEST_DB_MAIN_ATTEMPT_TIMEOUT=1s",
		       "BACKSTOP_DEST_CACHE_ATTEMPTS=2", "BACKSTOP_DEST_CACHE_MATCH=unix:@cache [::1]:6379",
		       NULL};
	struct bs_policy *p = load_ok("[dest \"db-main\"]\nmatch = 10.1.0.0/16\n", env);
	const struct bs_rule *db = rule_named(p, "db-main");
	ck_assert_uint_eq(db->max_conns, 20);
	ck_assert_uint_eq(db->attempt_timeout, BS_SEC);
	ck_assert(p->any_caps);
	const struct bs_rule *cache = rule_named(p, "cache");
	ck_assert_uint_eq(cache->attempts, 2);
	ck_assert_uint_eq(cache->n_match, 2);
	ck_assert_uint_eq(cache->deadline, 10 * BS_SEC);
	bs_policy_free(p);
}
END_TEST

START_TEST(env_errors)
{
	static const struct {
		const char *var, *msg;
	} cases[] = {
		{"BACKSTOP_CONECT_DEADLINE=1s", "BACKSTOP_CONECT_DEADLINE: unknown variable (did you mean BACKSTOP_CONNECT_DEADLINE?)"},
		{"BACKSTOP_CONNECT_DEADLINE=x", "BACKSTOP_CONNECT_DEADLINE: bad duration 'x' (use e.g. 250ms, 2s, 1m)"},
		{"BACKSTOP_CONNECT_DEADLINE=", "BACKSTOP_CONNECT_DEADLINE: bad duration '' (use e.g. 250ms, 2s, 1m)"},
		{"BACKSTOP_SEED=abc", "BACKSTOP_SEED: bad number 'abc' (allowed 0..18446744073709551615)"},
		{"BACKSTOP_WHATEVER=1", "BACKSTOP_WHATEVER: unknown variable (backstop reads BACKSTOP_POLICY, BACKSTOP_LOG, "
		 "BACKSTOP_SEED, BACKSTOP_<SECTION>_<KEY>, BACKSTOP_DEST_<NAME>_<KEY> and BACKSTOP_WRAP_<SYMBOL>_<KEY>; see docs/policy.md)"},
		{"BACKSTOP_CONNECT_MATCH=::1", NULL},
		{"BACKSTOP_DEST_NOPE_MAX_CONNS=3", "BACKSTOP_DEST_NOPE_MAX_CONNS: no [dest] rule is named NOPE (to create one "
		 "from the environment, set BACKSTOP_DEST_NOPE_MATCH too)"},
		{"BACKSTOP_DEST_DB_MAXCONNS=3", NULL},
		{"BACKSTOP_DEST_db_MAX_CONNS=3", "BACKSTOP_DEST_db_MAX_CONNS: the rule name must be written upper-case, with '_' "
		 "for '-' and '.' (a rule \"db-main\" is BACKSTOP_DEST_DB_MAIN_...)"},
		{"BACKSTOP_DEST_DB_MATCH=10.1.2.3/8", "BACKSTOP_DEST_DB_MATCH: '10.1.2.3/8' has host bits set past /8 (did you mean 10.0.0.0/8?)"},
		{"BACKSTOP_SLEEP_JITTER=full", "BACKSTOP_SLEEP_JITTER: bad jitter 'full' (use none or N%, e.g. 50%)"},
		{"BACKSTOP_POLICY=", "BACKSTOP_POLICY: empty (set it to a policy file, or unset it for the built-in policy)"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *env[] = {(char *)cases[i].var, NULL};
		struct bs_policy *p;
		struct bs_error err;
		struct bs_load_options o = {.envp = env};
		ck_assert_msg(bs_policy_load(&o, &p, &err) == -1, "%s accepted", cases[i].var);
		if (cases[i].msg)
			ck_assert_str_eq(err.msg, cases[i].msg);
		/* Whatever the text, the variable is named first. */
		size_t name_len = strcspn(cases[i].var, "=");
		ck_assert_int_eq(strncmp(err.msg, cases[i].var, name_len), 0);
		ck_assert_int_eq(err.msg[name_len], ':');
	}
}
END_TEST

START_TEST(env_short_and_long_forms_conflict)
{
	char *env[] = {"BACKSTOP_LOG=off", "BACKSTOP_GLOBAL_LOG=stderr", NULL};
	struct bs_policy *p;
	struct bs_error err;
	struct bs_load_options o = {.envp = env};
	ck_assert_int_eq(bs_policy_load(&o, &p, &err), -1);
	ck_assert_str_eq(err.msg, "BACKSTOP_GLOBAL_LOG: BACKSTOP_LOG is set too; set only one of them");
}
END_TEST

START_TEST(env_ambiguous_dest_names)
{
	char *env[] = {"BACKSTOP_DEST_A_B_ATTEMPTS=2", NULL};
	struct bs_error err;
	ck_assert_str_eq(load_err("[dest \"a-b\"]\nmatch = ::1\n[dest \"a.b\"]\nmatch = ::2\n", env, &err),
			 "BACKSTOP_DEST_A_B_ATTEMPTS: two [dest] rules have names that both read A_B here; rename one");
}
END_TEST

START_TEST(secure_mode_ignores_env)
{
	char *env[] = {"BACKSTOP_CONNECT_DEADLINE=3s", "BACKSTOP_CONECT_TYPO=1",
		       "BACKSTOP_POLICY=/nonexistent", NULL};
	struct bs_policy *p;
	struct bs_error err;
	struct bs_load_options o = {.envp = env, .secure = true};
	struct stat st;
	if (stat("/etc/backstop.conf", &st) == 0)
		return; /* the system policy applies under secure execution */
	ck_assert_int_eq(bs_policy_load(&o, &p, &err), 0);
	ck_assert_uint_eq(p->rules[0].deadline, 10 * BS_SEC);
	ck_assert_str_eq(p->source, "built-in");
	bs_policy_free(p);
}
END_TEST

START_TEST(backstop_policy_names_the_file)
{
	char dir[] = "/tmp/bs-policy-XXXXXX", path[64], var[96];
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/from-env.conf", dir);
	FILE *f = fopen(path, "w");
	fputs("[connect]\nattempts = 8\n", f);
	fclose(f);
	snprintf(var, sizeof var, "BACKSTOP_POLICY=%s", path);
	char *env[] = {var, NULL};
	struct bs_policy *p;
	struct bs_error err;
	struct bs_load_options o = {.envp = env};
	ck_assert_int_eq(bs_policy_load(&o, &p, &err), 0);
	ck_assert_uint_eq(p->rules[0].attempts, 8);
	ck_assert_str_eq(p->source, path); /* choosing the file is not an override */
	bs_policy_free(p);
	/* An explicit path wins over BACKSTOP_POLICY. */
	o.path = "/nonexistent.conf";
	ck_assert_int_eq(bs_policy_load(&o, &p, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "/nonexistent.conf: cannot open"));
	unlink(path);
	rmdir(dir);
}
END_TEST

BS_SUITE(policy_env_suite)
{
	Suite *s = suite_create("policy_env");
	TCase *tc = tcase_create("policy_env");
	tcase_add_test(tc, env_overrides_file);
	tcase_add_test(tc, env_dest_rules);
	tcase_add_test(tc, env_errors);
	tcase_add_test(tc, env_short_and_long_forms_conflict);
	tcase_add_test(tc, env_ambiguous_dest_names);
	tcase_add_test(tc, secure_mode_ignores_env);
	tcase_add_test(tc, backstop_policy_names_the_file);
	suite_add_tcase(s, tc);
	return s;
}
