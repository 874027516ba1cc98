/* backstop explain [-p POLICY] [-n SAMPLES] [--seed N] DEST: which rule
 * matches DEST and why, and the retry schedule it gets, sampled from the
 * real backoff code. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/schedule.h"
#include "policy/dest.h"
#include "policy/errnames.h"
#include "policy/values.h"

extern char **environ;

static const char help[] =
	"Usage: backstop explain [-p POLICY] [-n SAMPLES] [--seed N] DEST\n"
	"\n"
	"Show which rule matches DEST (127.0.0.1:5432, [::1]:80, unix:/path) and\n"
	"why, its connect settings, whether DEST is exempt from max_conns, and\n"
	"the retry schedule: for each attempt the delay before it (min, median\n"
	"and max over SAMPLES runs of the real backoff code with a fixed seed),\n"
	"and when it starts and ends at the latest, against the deadline. With\n"
	"attempts = 0 (no count limit) it also counts the attempts the deadline\n"
	"allows when each fails at once.\n"
	"\n"
	"Options:\n"
	"  -p, --policy POLICY   policy file (default: $BACKSTOP_POLICY, else\n"
	"                        the built-in policy); BACKSTOP_* variables apply\n"
	"  -n, --samples N       backoff runs to sample (default 10000)\n"
	"      --seed N          random seed for the samples (default: the\n"
	"                        policy's seed, else 1)\n"
	"  -h, --help            this text\n"
	"\n"
	"Exit status: 0 ok; 1 invalid policy; 2 usage error (bad DEST).\n";

static int parse_count(const char *text, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(text, &end, 10);
	if (errno || end == text || *end || text[0] == '-' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* The match patterns of rule that contain the destination, as text. */
static void print_reason(const struct bs_rule *rule, const struct sockaddr *sa,
			 socklen_t len)
{
	if (rule->index == 0) {
		printf("rule         connect (no [dest] rule matches; the [connect] "
		       "settings apply)\n");
		return;
	}
	printf("rule         %s, matched by", rule->name);
	for (size_t i = 0; i < rule->n_match; i++) {
		if (!bs_patterns_contain(&rule->match[i], 1, sa, len))
			continue;
		char pat[BS_DEST_MAX + 64];
		bs_format_pattern(pat, sizeof pat, &rule->match[i]);
		printf(" %s", pat);
	}
	printf(" in [dest \"%s\"] match\n", rule->name);
}

static void print_caps(const struct bs_rule *rule, const struct sockaddr *sa,
		       socklen_t len)
{
	static const char *const scopes[] = { "dest", "host", "rule" };
	char wait[32];
	if (rule->max_conns == 0) {
		printf("cap          none (max_conns = 0)\n");
		return;
	}
	if (bs_patterns_contain(rule->exempt, rule->n_exempt, sa, len)) {
		printf("cap          exempt (in the rule's exempt list; max_conns = %" PRIu32
		       " does not apply)\n", rule->max_conns);
		return;
	}
	bs_format_duration(wait, sizeof wait, rule->cap_wait);
	printf("cap          max_conns = %" PRIu32 " per %s, on_cap = %s", rule->max_conns,
	       scopes[rule->cap_scope], rule->on_cap == BS_ONCAP_WAIT ? "wait" : "fail");
	if (rule->on_cap == BS_ONCAP_WAIT)
		printf(", cap_wait = %s", wait);
	printf("\n");
}

static void print_settings(const struct bs_rule *rule)
{
	char base[32], maxd[32], at[32], dl[32], jit[32];
	bs_format_duration(base, sizeof base, rule->backoff.base);
	bs_format_duration(maxd, sizeof maxd, rule->backoff.max_delay);
	bs_format_duration(at, sizeof at, rule->attempt_timeout);
	bs_format_duration(dl, sizeof dl, rule->deadline);
	bs_format_jitter(jit, sizeof jit, &rule->backoff.jitter);
	printf("settings     attempts = %" PRIu32 "%s, base = %s, factor = %g, "
	       "max_delay = %s, jitter = %s\n",
	       rule->attempts, rule->attempts ? "" : " (no count limit)", base,
	       rule->backoff.factor, maxd, jit);
	printf("             attempt_timeout = %s, deadline = %s, nonblocking = %s\n",
	       rule->attempt_timeout ? at : "0 (bounded by the deadline only)", dl,
	       rule->nonblocking == BS_NB_SYNC ? "sync" :
	       rule->nonblocking == BS_NB_PASS ? "pass" : "async");
	printf("             retry_on =");
	for (int e = 1; e < BS_ERRNO_MAX; e++)
		if (bs_errset_has(&rule->retry_on, e)) {
			const char *name = bs_errno_name(e);
			if (name)
				printf(" %s", name);
			else
				printf(" %d", e);
		}
	printf("\n");
}

int cli_explain(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "policy", required_argument, NULL, 'p' },
		{ "samples", required_argument, NULL, 'n' },
		{ "seed", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = NULL;
	uint64_t samples = 10000, seed = 0;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":p:n:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'p':
			path = optarg;
			break;
		case 'n':
			if (parse_count(optarg, 1, 1000000, &samples) != 0)
				return cli_usage_error("explain", "-n '%s': expected a number "
							"of samples from 1 to 1000000", optarg);
			break;
		case 'S':
			if (parse_count(optarg, 1, UINT64_MAX, &seed) != 0)
				return cli_usage_error("explain", "--seed '%s': expected a "
							"positive integer", optarg);
			break;
		case 'h':
			fputs(help, stdout);
			return CLI_OK;
		default:
			return cli_option_error("explain", argv, c);
		}
	}
	if (optind >= argc)
		return cli_usage_error("explain", "missing DEST (like 127.0.0.1:5432, "
						  "[::1]:80 or unix:/run/app.sock)");
	if (argc - optind > 1)
		return cli_usage_error("explain", "too many arguments (one DEST)");
	const char *text = argv[optind];
	struct sockaddr_storage ss;
	socklen_t len;
	if (bs_dest_parse(text, &ss, &len) != 0)
		return cli_usage_error("explain", "'%s' is not a destination (like "
						  "127.0.0.1:5432, [::1]:80 or unix:/run/app.sock)",
				       text);

	struct bs_policy *policy = cli_load_policy(path, environ);
	if (!policy)
		return CLI_FAIL;
	const struct sockaddr *sa = (const struct sockaddr *)&ss;
	const struct bs_rule *rule = bs_policy_match(policy, sa, len);
	char dest[BS_DEST_MAX];
	bs_dest_format(dest, sizeof dest, sa, len);
	printf("destination  %s\npolicy       %s\n", dest, policy->source);
	print_reason(rule, sa, len);
	int rc = CLI_OK;
	if (rule->passthrough) {
		printf("passthrough  yes: calls go to libc untouched; no retries, no caps\n");
	} else {
		print_settings(rule);
		print_caps(rule, sa, len);
		printf("\n");
		if (seed == 0)
			seed = policy->global.seed ? policy->global.seed : 1;
		rc = schedule_print(rule, (size_t)samples, seed, stdout) == 0 ? CLI_OK : CLI_FAIL;
	}
	bs_policy_free(policy);
	return rc;
}
