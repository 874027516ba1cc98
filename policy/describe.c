/* The effective policy as text, one "section.key = value  # origin" line
 * per setting: what `backstop check` prints. */
#include <stdio.h>
#include <string.h>

#include "policy/load_internal.h"

#define VALUE_COLUMN 40
#define VALUE_MAX 16384

/* A dest rule's key it does not set itself comes from [connect]. */
static bool inherited(const struct bs_policy *p, const struct bs_key *k, size_t r)
{
	return k->scope == BS_SC_RULE && r > 0 && !k->dest_only &&
	       bs_origin_get(p, k, r) == BS_ORIGIN_DEFAULT;
}

void bs_origin_text(const struct bs_policy *p, const struct bs_key *k, size_t r,
		    char *buf, size_t cap)
{
	if (inherited(p, k, r))
		r = 0;
	uint32_t o = bs_origin_get(p, k, r);
	if (o == BS_ORIGIN_DEFAULT)
		snprintf(buf, cap, "default");
	else if (o == BS_ORIGIN_ENV || o == BS_ORIGIN_ENV_SHORT)
		bs_env_name(p, k, r, o == BS_ORIGIN_ENV_SHORT, buf, cap);
	else
		snprintf(buf, cap, "%s:%u", p->origins->file, o);
}

static void describe_scope(const struct bs_policy *p, enum bs_scope scope,
			   size_t r, FILE *out)
{
	char value[VALUE_MAX];
	char head[BS_NAME_MAX + 32], origin[BS_WHY_MAX];
	size_t n;
	const struct bs_key *keys = bs_scope_keys(scope, &n);
	if (scope == BS_SC_WRAP)
		snprintf(head, sizeof head, "wrap \"%s\"", p->wraps[r].symbol);
	else if (scope == BS_SC_RULE && r > 0)
		snprintf(head, sizeof head, "dest \"%s\"", p->rules[r].name);
	else
		snprintf(head, sizeof head, "%s", bs_scope_name(scope));
	for (size_t i = 0; i < n; i++) {
		const struct bs_key *k = &keys[i];
		if (k->dest_only && !(scope == BS_SC_RULE && r > 0))
			continue;
		bs_key_format(p, k, r, value, sizeof value);
		bs_origin_text(p, k, r, origin, sizeof origin);
		int width = fprintf(out, "%s.%s = %s", head, k->name, value);
		fprintf(out, "%*s# %s%s\n", width < VALUE_COLUMN ? VALUE_COLUMN - width : 2, "",
			inherited(p, k, r) ? "inherited: " : "", origin);
	}
}

void bs_policy_describe_wrap(const struct bs_policy *p, const struct bs_wrap *w, FILE *out)
{
	describe_scope(p, BS_SC_WRAP, (size_t)(w - p->wraps), out);
}

void bs_policy_describe(const struct bs_policy *p, FILE *out)
{
	fprintf(out, "# policy: %s, %zu dest rule%s\n", p->source, p->n_rules - 1,
		p->n_rules == 2 ? "" : "s");
	describe_scope(p, BS_SC_GLOBAL, 0, out);
	describe_scope(p, BS_SC_RULE, 0, out);
	for (size_t r = 1; r < p->n_rules; r++)
		describe_scope(p, BS_SC_RULE, r, out);
	describe_scope(p, BS_SC_ACCEPT, 0, out);
	describe_scope(p, BS_SC_SLEEP, 0, out);
	describe_scope(p, BS_SC_DNS, 0, out);
	for (size_t w = 1; w < p->n_wraps; w++)
		describe_scope(p, BS_SC_WRAP, w, out);
}
