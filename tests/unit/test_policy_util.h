/* Loading policies from text in the policy tests: the text goes to a
 * temporary file named policy.conf, so messages read "…/policy.conf:N". */
#ifndef BS_TEST_POLICY_UTIL_H
#define BS_TEST_POLICY_UTIL_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "policy/policy.h"

/* A fresh directory per call; the file is removed again after loading. */
static inline int load_text_env(const char *text, char *const *envp,
				struct bs_policy **out, struct bs_error *err,
				char *path, size_t cap)
{
	char dir[] = "/tmp/bs-policy-XXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, cap, "%s/policy.conf", dir);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
	struct bs_load_options opts = {.path = path, .envp = envp};
	int rc = bs_policy_load(&opts, out, err);
	unlink(path);
	rmdir(dir);
	return rc;
}

static inline struct bs_policy *load_ok(const char *text, char *const *envp)
{
	struct bs_policy *p = NULL;
	struct bs_error err;
	char path[64];
	if (load_text_env(text, envp, &p, &err, path, sizeof path) != 0)
		ck_abort_msg("policy did not load: %s\n---\n%s", err.msg, text);
	return p;
}

/* Loading must fail; the message (after the directory) is returned. */
static inline const char *load_err(const char *text, char *const *envp,
				   struct bs_error *err)
{
	struct bs_policy *p = NULL;
	char path[64];
	if (load_text_env(text, envp, &p, err, path, sizeof path) == 0) {
		bs_policy_free(p);
		ck_abort_msg("policy loaded but should not have:\n%s", text);
	}
	const char *tail = strstr(err->msg, "policy.conf:");
	return tail ? tail : err->msg;
}

/* A policy text that sets every key (test_policy.c). */
extern const char every_key[];

/* The rule called name; the test fails when there is none. */
static inline const struct bs_rule *rule_named(const struct bs_policy *p, const char *name)
{
	for (size_t r = 0; r < p->n_rules; r++)
		if (strcmp(p->rules[r].name, name) == 0)
			return &p->rules[r];
	ck_abort_msg("no rule %s", name);
	return NULL;
}

#endif
