/* What the subcommands share: usage errors and policy loading. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

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

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "backstop%s%s: ", cmd ? " " : "", cmd ? cmd : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'backstop %s%s--help'.\n", cmd ? cmd : "", cmd ? " " : "");
	return CLI_USAGE;
}

int cli_option_error(const char *cmd, char **argv, int c)
{
	extern int optind, optopt;
	const char *arg = argv[optind - 1];
	if (c == ':')
		return cli_usage_error(cmd, "option '%s' needs an argument", arg);
	if (optopt && strncmp(arg, "--", 2) != 0)
		return cli_usage_error(cmd, "unknown option '-%c'", optopt);
	return cli_usage_error(cmd, "unknown option '%s'", arg);
}
