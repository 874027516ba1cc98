/* A policy file steering a privileged process (secure execution, or root)
 * must be owned by root or the effective user and must not be group- or
 * world-writable (policy/trust.c). An unprivileged process reads any file
 * it can read. Cases that need to change owners or drop the effective uid
 * run only as root (the build machines and CI are root) and say so. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy/load_internal.h"
#include "tests/runner/bs_test.h"

#define NOBODY 65534

struct policy_file {
	char dir[32];
	char path[64];
};

/* A one-rule policy in a fresh directory anyone may enter, with MODE. */
static void make_file(struct policy_file *f, mode_t mode)
{
	snprintf(f->dir, sizeof f->dir, "/tmp/bs-perms-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(f->dir));
	ck_assert_int_eq(chmod(f->dir, 0755), 0);
	snprintf(f->path, sizeof f->path, "%s/policy.conf", f->dir);
	FILE *out = fopen(f->path, "w");
	ck_assert_ptr_nonnull(out);
	fputs("[connect]\nattempts = 7\n", out);
	ck_assert_int_eq(fclose(out), 0);
	ck_assert_int_eq(chmod(f->path, mode), 0);
}

static void remove_file(struct policy_file *f)
{
	unlink(f->path);
	rmdir(f->dir);
}

/* Loads f with secure execution on or off; returns the load's result. */
static int load(const struct policy_file *f, bool secure, struct bs_error *err)
{
	struct bs_load_options o = {.path = f->path, .secure = secure};
	struct bs_policy *p = NULL;
	int rc = bs_policy_load(&o, &p, err);
	if (rc == 0) {
		ck_assert_uint_eq(p->rules[0].attempts, 7);
		bs_policy_free(p);
	}
	return rc;
}

#define SKIP_UNLESS_ROOT()                                                       \
	do {                                                                     \
		if (geteuid() != 0) {                                            \
			fprintf(stderr, "# %s skipped: needs root\n", __func__); \
			return;                                                  \
		}                                                                \
	} while (0)

START_TEST(secure_accepts_a_private_file)
{
	struct policy_file f;
	struct bs_error err;
	make_file(&f, 0644);
	ck_assert_msg(load(&f, true, &err) == 0, "%s", err.msg);
	remove_file(&f);
}
END_TEST

static const struct {
	mode_t mode;
	const char *says;
} writable[] = {
	{0664, "group-writable (mode 0664)"},
	{0646, "world-writable (mode 0646)"},
	{0666, "world-writable (mode 0666)"},
	{0620, "group-writable (mode 0620)"},
};

START_TEST(secure_refuses_a_writable_file)
{
	struct policy_file f;
	struct bs_error err;
	make_file(&f, writable[_i].mode);
	ck_assert_int_eq(load(&f, true, &err), -1);
	/* The message starts with the file and says what to change. */
	ck_assert_msg(strncmp(err.msg, f.path, strlen(f.path)) == 0, "%s", err.msg);
	ck_assert_msg(strstr(err.msg, writable[_i].says) != NULL, "%s", err.msg);
	ck_assert_msg(strstr(err.msg, "chmod go-w") != NULL, "%s", err.msg);
	remove_file(&f);
}
END_TEST

START_TEST(secure_refuses_a_file_owned_by_someone_else)
{
	SKIP_UNLESS_ROOT();
	struct policy_file f;
	struct bs_error err;
	make_file(&f, 0644);
	ck_assert_int_eq(chown(f.path, NOBODY, NOBODY), 0);
	ck_assert_int_eq(load(&f, true, &err), -1);
	ck_assert_msg(strncmp(err.msg, f.path, strlen(f.path)) == 0, "%s", err.msg);
	ck_assert_msg(strstr(err.msg, "owned by uid 65534") != NULL, "%s", err.msg);
	remove_file(&f);
}
END_TEST

/* Root without secure execution is privileged too: a world-writable file
 * would let any user choose where a root daemon appends its log. */
START_TEST(root_refuses_a_writable_file)
{
	SKIP_UNLESS_ROOT();
	struct policy_file f;
	struct bs_error err;
	make_file(&f, 0666);
	ck_assert_int_eq(load(&f, false, &err), -1);
	ck_assert_msg(strstr(err.msg, "refused: world-writable") != NULL, "%s", err.msg);
	remove_file(&f);
}
END_TEST

/* An ordinary user may keep a policy anywhere, in any mode: it only
 * steers their own programs. (Check forks per test: the uid change dies
 * with this test's process.) */
START_TEST(unprivileged_reads_any_readable_file)
{
	SKIP_UNLESS_ROOT();
	struct policy_file f;
	struct bs_error err;
	make_file(&f, 0666);
	ck_assert_int_eq(chown(f.path, 0, 0), 0);
	ck_assert_int_eq(seteuid(NOBODY), 0);
	int rc = load(&f, false, &err);
	ck_assert_int_eq(seteuid(0), 0);
	ck_assert_msg(rc == 0, "%s", err.msg);
	remove_file(&f);
}
END_TEST

/* The check itself, for an effective user other than root: their own
 * file and root's pass, another user's does not. */
START_TEST(trust_is_root_or_the_effective_user)
{
	struct policy_file f;
	struct bs_error err;
	make_file(&f, 0600);
	FILE *in = fopen(f.path, "r");
	ck_assert_ptr_nonnull(in);
	struct stat st;
	ck_assert_int_eq(fstat(fileno(in), &st), 0);
	ck_assert_int_eq(bs_file_trusted(fileno(in), f.path, st.st_uid, &err), 0);
	ck_assert_int_eq(bs_file_trusted(fileno(in), f.path, st.st_uid + 1000, &err),
			 st.st_uid == 0 ? 0 : -1);
	fclose(in);
	remove_file(&f);
}
END_TEST

/* Under secure execution with no system policy, the built-in one applies
 * and the environment's BACKSTOP_POLICY is not even looked at. */
START_TEST(secure_without_system_policy_is_builtin)
{
	struct stat st;
	if (stat("/etc/backstop.conf", &st) == 0) {
		fprintf(stderr, "# skipped: /etc/backstop.conf exists on this machine\n");
		return;
	}
	char *env[] = {"BACKSTOP_POLICY=/nonexistent", NULL};
	struct bs_load_options o = {.envp = env, .secure = true};
	struct bs_policy *p;
	struct bs_error err;
	ck_assert_msg(bs_policy_load(&o, &p, &err) == 0, "%s", err.msg);
	ck_assert_str_eq(p->source, "built-in");
	bs_policy_free(p);
}
END_TEST

BS_SUITE(policy_perms_suite)
{
	Suite *s = suite_create("policy_perms");
	TCase *tc = tcase_create("perms");
	tcase_add_test(tc, secure_accepts_a_private_file);
	tcase_add_loop_test(tc, secure_refuses_a_writable_file, 0,
			    (int)(sizeof writable / sizeof writable[0]));
	tcase_add_test(tc, secure_refuses_a_file_owned_by_someone_else);
	tcase_add_test(tc, root_refuses_a_writable_file);
	tcase_add_test(tc, unprivileged_reads_any_readable_file);
	tcase_add_test(tc, trust_is_root_or_the_effective_user);
	tcase_add_test(tc, secure_without_system_policy_is_builtin);
	suite_add_tcase(s, tc);
	return s;
}
