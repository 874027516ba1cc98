/* backstop state [-p POLICY] [--reset] [--prometheus]: the machine-wide
 * state file the policy names ([global] state): each rule's retry budget
 * and each destination's circuit, as a table or as Prometheus text
 * exposition (for node_exporter's textfile collector). */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "engine/shm.h"
#include "policy/errnames.h"

extern char **environ;

static const char help[] =
	"Usage: backstop state [-p POLICY] [--reset] [--prometheus]\n"
	"\n"
	"Show the machine-wide state that rules with share = machine count in:\n"
	"per rule the retry budget (calls and retries in the window, retries\n"
	"left), per destination the circuit breaker (state, consecutive\n"
	"failures, opens, the last error, when it next half-opens). The file is\n"
	"the policy's [global] state.\n"
	"\n"
	"Options:\n"
	"  -p, --policy POLICY   policy file (default: $BACKSTOP_POLICY, else\n"
	"                        the built-in policy); BACKSTOP_* variables apply\n"
	"      --reset           forget every count and circuit (all close)\n"
	"      --prometheus      print Prometheus text exposition format\n"
	"  -h, --help            this text\n"
	"\n"
	"Exit status: 0 ok; 1 invalid policy, no state file or an unusable one;\n"
	"2 usage error.\n";

static bs_ns monotonic(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (bs_ns)ts.tv_sec * BS_SEC + (bs_ns)ts.tv_nsec;
}

static const struct bs_rule *rule_named(const struct bs_policy *p, const char *name)
{
	for (size_t r = 0; r < p->n_rules; r++)
		if (strcmp(p->rules[r].name, name) == 0 &&
		    p->rules[r].retry_budget != BS_BUDGET_OFF)
			return &p->rules[r];
	return NULL;
}

static const char *state_name(enum bs_breaker_state s)
{
	static const char *const names[] = { "closed", "open", "half_open" };
	return names[s];
}

static const char *errno_text(int err, char *buf, size_t cap)
{
	const char *name = err != 0 ? bs_errno_name(err) : "-";
	if (name == NULL)
		snprintf(buf, cap, "%d", err);
	else
		snprintf(buf, cap, "%s", name);
	return buf;
}

/* A budget entry as counted now; allowed is known when the policy has a
 * rule of that name with a budget. */
struct budget_row {
	const char *rule;
	struct bs_budget_view v;
	bool known;
};

static void budget_row(const struct bs_guard_budget_entry *e, const struct bs_policy *p,
		       bs_ns now, struct budget_row *row)
{
	const struct bs_rule *rule = rule_named(p, e->rule);
	const struct bs_budget_params params = {
		.percent = rule ? rule->retry_budget : 0,
		.min_per_sec = rule ? rule->retry_budget_min : 0,
		.window = rule ? rule->retry_budget_window : 10 * BS_SEC };
	row->rule = e->rule;
	row->known = rule != NULL;
	bs_budget_view(&e->budget, &params, now, &row->v);
}

static uint64_t left(const struct budget_row *row)
{
	return row->v.allowed > row->v.retries ? row->v.allowed - row->v.retries : 0;
}

static double next_half_open(const struct bs_breaker_view *v, bs_ns now)
{
	return v->state == BS_BREAKER_OPEN && v->until > now ? (double)(v->until - now) / BS_SEC : 0;
}

static void print_caps(struct bs_mcap_table *t, bs_ns now)
{
	printf("caps (share = machine)\n");
	printf("  %-20s %-28s %8s %9s %8s\n", "rule", "dest", "in_use", "max_conns", "waiters");
	for (size_t i = 0; i < BS_MCAP_KEYS; i++) {
		struct bs_mcap_entry *e = &t->entries[i];
		if (atomic_load(&e->key) == 0)
			continue;
		uint32_t used, waiters;
		bs_mcap_count(e, now, &used, &waiters);
		printf("  %-20s %-28s %8u %9u %8u\n", e->rule, e->dest, used,
		       atomic_load(&e->limit), waiters);
	}
}

static void print_table(const struct bs_guard_table *t, const struct bs_policy *p,
			bs_ns now)
{
	printf("\nretry budgets (share = machine)\n");
	printf("  %-20s %10s %10s %10s %10s\n", "rule", "calls", "retries", "allowed", "left");
	for (size_t i = 0; i < BS_GUARD_BUDGETS; i++) {
		if (atomic_load(&t->budgets[i].key) == 0)
			continue;
		struct budget_row row;
		budget_row(&t->budgets[i], p, now, &row);
		char allowed[24] = "-", rest[24] = "-";
		if (row.known) {
			snprintf(allowed, sizeof allowed, "%" PRIu64, row.v.allowed);
			snprintf(rest, sizeof rest, "%" PRIu64, left(&row));
		}
		printf("  %-20s %10" PRIu64 " %10" PRIu64 " %10s %10s\n", row.rule,
		       row.v.calls, row.v.retries, allowed, rest);
	}
	printf("\ncircuit breakers (share = machine)\n");
	printf("  %-20s %-28s %-9s %8s %5s %-14s %s\n", "rule", "dest", "state", "failures",
	       "opens", "last_error", "half_open_in_s");
	for (size_t i = 0; i < BS_GUARD_BREAKERS; i++) {
		const struct bs_guard_breaker_entry *e = &t->breakers[i];
		if (atomic_load(&e->key) == 0)
			continue;
		struct bs_breaker_view v;
		char err[32];
		bs_breaker_read(&e->breaker, &v);
		printf("  %-20s %-28s %-9s %8u %5u %-14s %.3f\n", e->rule, e->dest,
		       state_name(v.state), v.failures, v.opens,
		       errno_text(v.last_err, err, sizeof err), next_half_open(&v, now));
	}
}

/* A label value with \, " and newline escaped, as the format asks. */
static void label(const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			printf("\\%c", *s);
		else if (*s == '\n')
			printf("\\n");
		else
			putchar(*s);
	}
}

static void family(const char *name, const char *help_text)
{
	printf("# HELP %s %s\n# TYPE %s gauge\n", name, help_text, name);
}

static void budget_metric(const char *name, const struct budget_row *row, uint64_t v)
{
	printf("%s{rule=\"", name);
	label(row->rule);
	printf("\"} %" PRIu64 "\n", v);
}

static void breaker_labels(const char *name, const struct bs_guard_breaker_entry *e,
			   const char *extra)
{
	printf("%s{rule=\"", name);
	label(e->rule);
	printf("\",dest=\"");
	label(e->dest);
	printf("\"%s}", extra);
}

/* The samples of family f (index in print_prometheus's list) for e. */
static void breaker_metric(const char *name, size_t f,
			   const struct bs_guard_breaker_entry *e, bs_ns now)
{
	struct bs_breaker_view v;
	bs_breaker_read(&e->breaker, &v);
	if (f == 0) {
		for (int s = BS_BREAKER_CLOSED; s <= BS_BREAKER_HALF_OPEN; s++) {
			char extra[32];
			snprintf(extra, sizeof extra, ",state=\"%s\"", state_name(s));
			breaker_labels(name, e, extra);
			printf(" %d\n", v.state == (enum bs_breaker_state)s);
		}
	} else if (f == 1) {
		breaker_labels(name, e, "");
		printf(" %u\n", v.failures);
	} else {
		breaker_labels(name, e, "");
		printf(" %.3f\n", next_half_open(&v, now));
	}
}

static void print_prometheus_caps(struct bs_mcap_table *t, bs_ns now)
{
	static const struct {
		const char *name, *help;
	} cap_families[] = {
		{ "backstop_cap_in_use", "Connections counted against the machine-wide max_conns." },
		{ "backstop_cap_max_conns", "The machine-wide max_conns." },
		{ "backstop_cap_waiters", "Callers queued for a machine-wide slot." },
	};
	for (size_t f = 0; f < 3; f++) {
		family(cap_families[f].name, cap_families[f].help);
		for (size_t i = 0; i < BS_MCAP_KEYS; i++) {
			struct bs_mcap_entry *e = &t->entries[i];
			if (atomic_load(&e->key) == 0)
				continue;
			uint32_t v[3];
			bs_mcap_count(e, now, &v[0], &v[2]);
			v[1] = atomic_load(&e->limit);
			printf("%s{rule=\"", cap_families[f].name);
			label(e->rule);
			printf("\",dest=\"");
			label(e->dest);
			printf("\"} %u\n", v[f]);
		}
	}
}

static void print_prometheus(const struct bs_guard_table *t, const struct bs_policy *p,
			     bs_ns now)
{
	static const struct {
		const char *name, *help;
	} budget_families[] = {
		{ "backstop_budget_calls", "Calls counted in the retry budget's window." },
		{ "backstop_budget_retries", "Retries granted in the retry budget's window." },
		{ "backstop_budget_left", "Retries the budget still allows in the window." },
	};
	for (size_t f = 0; f < 3; f++) {
		family(budget_families[f].name, budget_families[f].help);
		for (size_t i = 0; i < BS_GUARD_BUDGETS; i++) {
			struct budget_row row;
			if (atomic_load(&t->budgets[i].key) == 0)
				continue;
			budget_row(&t->budgets[i], p, now, &row);
			const uint64_t v[] = { row.v.calls, row.v.retries, left(&row) };
			if (f < 2 || row.known)
				budget_metric(budget_families[f].name, &row, v[f]);
		}
	}
	static const struct {
		const char *name, *help;
	} breaker_families[] = {
		{ "backstop_breaker_state", "1 for the circuit's current state (closed, open, half_open)." },
		{ "backstop_breaker_failures", "Consecutive failed attempts." },
		{ "backstop_breaker_half_open_seconds", "Seconds until an open circuit lets a probe through." },
	};
	for (size_t f = 0; f < 3; f++) {
		family(breaker_families[f].name, breaker_families[f].help);
		for (size_t i = 0; i < BS_GUARD_BREAKERS; i++) {
			const struct bs_guard_breaker_entry *e = &t->breakers[i];
			if (atomic_load(&e->key) != 0)
				breaker_metric(breaker_families[f].name, f, e, now);
		}
	}
}

int cli_state(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "policy", required_argument, NULL, 'p' },
		{ "reset", no_argument, NULL, 'r' },
		{ "prometheus", no_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = NULL;
	bool reset = false, prometheus = false;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":p:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'p': path = optarg; break;
		case 'r': reset = true; break;
		case 'P': prometheus = true; break;
		case 'h': fputs(help, stdout); return CLI_OK;
		default: return cli_option_error("state", argv, c);
		}
	}
	if (optind < argc)
		return cli_usage_error("state", "unexpected argument '%s'", argv[optind]);
	if (reset && prometheus)
		return cli_usage_error("state", "--reset and --prometheus do not go together");
	struct bs_policy *p = cli_load_policy(path, environ);
	if (p == NULL)
		return CLI_FAIL;
	int rc = CLI_OK;
	struct bs_shm shm;
	char why[512];
	const char *file = p->global.state_path;
	if (file == NULL) {
		fprintf(stderr, "backstop state: the policy (%s) has no state file ([global] state = off)\n",
			p->source);
		rc = CLI_FAIL;
	} else if (bs_shm_open(&shm, file, false, reset, why, sizeof why) != 0) {
		fprintf(stderr, "backstop state: %s\n", why);
		rc = CLI_FAIL;
	} else {
		if (reset) {
			bs_shm_reset(&shm);
			printf("%s: every budget and circuit reset\n", file);
		} else if (prometheus) {
			print_prometheus_caps(&shm.map->caps, monotonic());
			print_prometheus(&shm.map->guards, p, monotonic());
		} else {
			printf("state file %s (version %u)\n\n", file, BS_SHM_VERSION);
			print_caps(&shm.map->caps, monotonic());
			print_table(&shm.map->guards, p, monotonic());
		}
		bs_shm_close(&shm);
	}
	bs_policy_free(p);
	return rc;
}
