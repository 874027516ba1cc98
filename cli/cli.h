/* The `backstop` command: one entry point per subcommand, and the few
 * helpers they share (usage errors, policy loading). */
#ifndef BS_CLI_H
#define BS_CLI_H

#include <stdio.h>

#include "policy/policy.h"

/* Exit statuses of every subcommand (`run` exits with the command's). */
enum {
	CLI_OK = 0,
	CLI_FAIL = 1,  /* runtime failure or invalid policy */
	CLI_USAGE = 2, /* bad command line */
};

int cli_run(int argc, char **argv);
int cli_check(int argc, char **argv);
int cli_explain(int argc, char **argv);
int cli_log(int argc, char **argv);
int cli_state(int argc, char **argv);

/* Print "backstop CMD: MESSAGE" and a pointer to --help on stderr;
 * returns CLI_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* The usage error for what getopt_long returned ('?' or ':'), naming the
 * option. The optstring must start with ':' (after any '+'). */
int cli_option_error(const char *cmd, char **argv, int c);

/* Load a policy as the library would: `path` (NULL: $BACKSTOP_POLICY from
 * envp, else built-in) with envp's BACKSTOP_* on top. On error prints
 * "backstop: ERROR" and returns NULL. */
struct bs_policy *cli_load_policy(const char *path, char *const *envp);

#endif
