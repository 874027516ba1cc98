/* backstop check [POLICY]: validate a policy (file + environment) and print
 * the effective values with where each came from. */
#include <getopt.h>
#include <stdio.h>

#include "cli/cli.h"

extern char **environ;

static const char help[] =
	"Usage: backstop check [POLICY]\n"
	"\n"
	"Load POLICY (default: $BACKSTOP_POLICY, else the built-in policy) with\n"
	"the BACKSTOP_* environment variables on top, exactly as the library\n"
	"does, and print every effective setting with its origin (default, the\n"
	"file and line, or the variable). An unknown key, a bad value or an\n"
	"unknown BACKSTOP_* variable is an error naming where it is. A setting\n"
	"that cannot do what it seems to (max_per_client in a server that forks\n"
	"per connection) is warned about on stderr.\n"
	"\n"
	"Options:\n"
	"  -h, --help   this text\n"
	"\n"
	"Exit status: 0 the policy is valid; 1 it is not; 2 usage error.\n";

int cli_check(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		if (c == 'h') {
			fputs(help, stdout);
			return CLI_OK;
		}
		return cli_option_error("check", argv, c);
	}
	if (argc - optind > 1)
		return cli_usage_error("check", "too many arguments (one POLICY at most)");
	struct bs_policy *policy = cli_load_policy(argv[optind], environ);
	if (!policy)
		return CLI_FAIL;
	bs_policy_describe(policy, stdout);
	/* Said loudly, because nothing else would show it (docs/inbound.md). */
	if (policy->accept.max_per_client > 0)
		fputs("backstop: warning: [accept] max_per_client counts the connections each process\n"
		      "backstop: warning: holds; a server that forks a child per connection and closes\n"
		      "backstop: warning: its own copy (inetd style) is not limited by it. See\n"
		      "backstop: warning: docs/inbound.md, \"Fork-per-connection servers\".\n", stderr);
	printf("policy OK: %s, %zu dest rule%s", policy->source, policy->n_rules - 1,
	       policy->n_rules == 2 ? "" : "s");
	if (policy->n_wraps > 1) {
		printf(", %zu declared wrapper%s:", policy->n_wraps - 1,
		       policy->n_wraps == 2 ? "" : "s");
		for (size_t w = 1; w < policy->n_wraps; w++)
			printf(" %s", policy->wraps[w].symbol);
	}
	printf("\n");
	bs_policy_free(policy);
	return CLI_OK;
}
