/* backstop explain [-p POLICY] [-n SAMPLES] [--seed N] DEST|NAME:PORT|SYMBOL:
 * which rule matches DEST (an address, or a host name and port) and why, or
 * the declared wrapper of SYMBOL, and the
 * retry schedule it gets, sampled from the real backoff code. */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
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
	"Usage: backstop explain [-p POLICY] [-n SAMPLES] [--seed N] DEST|SYMBOL\n"
	"\n"
	"Show which rule matches DEST (127.0.0.1:5432, [::1]:80, unix:/path, or\n"
	"NAME:PORT for a connect to an address the program resolved from NAME) and\n"
	"why, its connect settings, whether DEST is exempt from max_conns, and\n"
	"the retry schedule: for each attempt the delay before it (min, median\n"
	"and max over SAMPLES runs of the real backoff code with a fixed seed),\n"
	"and when it starts and ends at the latest, against the deadline. With\n"
	"attempts = 0 (no count limit) it also counts the attempts the deadline\n"
	"allows when each fails at once.\n"
	"For SYMBOL, a function declared in a [wrap \"SYMBOL\"] section: its\n"
	"signature, when a return is retried, and the same schedule.\n"
	"\n"
	"Options:\n"
	"  -p, --policy POLICY   policy file (default: $BACKSTOP_POLICY, else\n"
	"                        the built-in policy); BACKSTOP_* variables apply\n"
	"  -n, --samples N       backoff runs to sample (default 10000)\n"
	"      --seed N          random seed for the samples (default: the\n"
	"                        policy's seed, else 1)\n"
	"  -h, --help            this text\n"
	"\n"
	"Exit status: 0 ok; 1 invalid policy; 2 usage error (bad DEST, or a\n"
	"SYMBOL no [wrap] section declares).\n";

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

/* A host name target: the name rule, or what applies without one. */
static const struct bs_rule *name_rule(const struct bs_policy *policy,
				       const struct bs_pattern *target)
{
	const struct bs_rule *rule = bs_policy_match_name(policy, target->glob, target->port);
	if (rule == NULL) {
		printf("rule         connect (no [dest] rule matches the name; a rule for the "
		       "address it resolves to still would: explain ADDRESS:%u)\n", target->port);
		return &policy->rules[0];
	}
	printf("rule         %s, matched by name in [dest \"%s\"] match:", rule->name, rule->name);
	for (size_t i = 0; i < rule->n_match; i++) {
		char pat[300];
		if (rule->match[i].family != BS_PATTERN_NAME)
			continue;
		bs_format_pattern(pat, sizeof pat, &rule->match[i]);
		printf(" %s", pat);
	}
	printf("\n");
	return rule;
}

/* NAME:PORT with a plain name (no glob) and a port. */
static bool parse_name_target(const char *text, struct bs_pattern *out)
{
	char why[BS_WHY_MAX];
	if (!bs_is_name_pattern(text) || bs_parse_name_pattern(text, out, why, sizeof why) != 0)
		return false;
	if (out->port != 0 && !strpbrk(out->glob, "*?["))
		return true;
	free(out->glob);
	return false;
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
	printf("             attempt_timeout = %s, deadline = %s, nonblocking = %s, failover = %s\n",
	       rule->attempt_timeout ? at : "0 (bounded by the deadline only)", dl,
	       rule->nonblocking == BS_NB_SYNC ? "sync" :
	       rule->nonblocking == BS_NB_PASS ? "pass" : "async",
	       rule->failover == BS_FAILOVER_NEXT ? "next" : "off");
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

static const struct bs_wrap *find_wrap(const struct bs_policy *policy, const char *symbol)
{
	for (size_t w = 1; w < policy->n_wraps; w++)
		if (strcmp(policy->wraps[w].symbol, symbol) == 0)
			return &policy->wraps[w];
	return NULL;
}

/* The declared wrapper of SYMBOL, as `backstop check` prints its keys. */
static int explain_wrap(const struct bs_policy *policy, const struct bs_wrap *w,
			size_t samples, uint64_t seed)
{
	printf("symbol       %s\npolicy       %s\n", w->symbol, policy->source);
	printf("library      %s\n\n", w->library[0] ? w->library
					   : "any (the first loaded object that defines it)");
	bs_policy_describe_wrap(policy, w, stdout);
	printf("\n");
	const struct schedule_spec spec = {
		.attempts = w->attempts, .backoff = &w->backoff, .deadline = w->deadline,
	};
	return schedule_print(&spec, samples, seed, stdout) == 0 ? CLI_OK : CLI_FAIL;
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
						  "[::1]:80, unix:/run/app.sock or db.internal:5432) or SYMBOL");
	if (argc - optind > 1)
		return cli_usage_error("explain", "too many arguments (one DEST or SYMBOL)");
	const char *text = argv[optind];
	struct sockaddr_storage ss;
	socklen_t len = 0;
	struct bs_pattern name = { .glob = NULL };
	bool is_dest = bs_dest_parse(text, &ss, &len) == 0;
	struct bs_policy *policy = cli_load_policy(path, environ);
	if (!policy)
		return CLI_FAIL;
	if (seed == 0)
		seed = policy->global.seed ? policy->global.seed : 1;
	const struct bs_wrap *wrap = is_dest ? NULL : find_wrap(policy, text);
	if (wrap != NULL) {
		int rc = explain_wrap(policy, wrap, (size_t)samples, seed);
		bs_policy_free(policy);
		return rc;
	}
	if (!is_dest && !parse_name_target(text, &name)) {
		bs_policy_free(policy);
		return cli_usage_error("explain", "'%s' is not a destination (like "
						  "127.0.0.1:5432, [::1]:80, unix:/run/app.sock "
						  "or db.internal:5432) nor a symbol a [wrap] "
						  "section of the policy declares", text);
		return CLI_FAIL;
	}
	/* A name target has no address: nothing is exempt by address. */
	const struct sockaddr *sa = name.glob ? NULL : (const struct sockaddr *)&ss;
	const struct bs_rule *rule;
	if (name.glob) {
		printf("destination  %s:%u (a host name)\npolicy       %s\n", name.glob, name.port,
		       policy->source);
		rule = name_rule(policy, &name);
	} else {
		char dest[BS_DEST_MAX];
		rule = bs_policy_match(policy, sa, len);
		bs_dest_format(dest, sizeof dest, sa, len);
		printf("destination  %s\npolicy       %s\n", dest, policy->source);
		print_reason(rule, sa, len);
	}
	int rc = CLI_OK;
	if (rule->passthrough) {
		printf("passthrough  yes: calls go to libc untouched; no retries, no caps\n");
	} else {
		print_settings(rule);
		print_caps(rule, sa, len);
		printf("\n");
		/* An attempt without its own timeout is bounded by the deadline only. */
		const struct schedule_spec spec = {
			.attempts = rule->attempts, .backoff = &rule->backoff,
			.attempt_max = rule->attempt_timeout && rule->attempt_timeout < rule->deadline
					       ? rule->attempt_timeout : rule->deadline,
			.deadline = rule->deadline,
		};
		rc = schedule_print(&spec, (size_t)samples, seed, stdout) == 0 ? CLI_OK : CLI_FAIL;
	}
	bs_policy_free(policy);
	free(name.glob);
	return rc;
}
