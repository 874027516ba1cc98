/* Policy loading shared by run, check and explain. */
#include <stdio.h>

#include "cli/cli.h"

struct bs_policy *cli_load_policy(const char *path, char *const *envp)
{
	struct bs_load_options opts = { .path = path, .envp = envp, .secure = false };
	struct bs_policy *policy = NULL;
	struct bs_error err = { .msg = "" };
	if (bs_policy_load(&opts, &policy, &err) != 0) {
		fprintf(stderr, "backstop: %s\n", err.msg[0] ? err.msg : "invalid policy");
		return NULL;
	}
	return policy;
}
