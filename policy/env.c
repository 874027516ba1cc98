/* BACKSTOP_* environment variables on top of the policy file.
 *
 *   BACKSTOP_<SECTION>_<KEY>      BACKSTOP_CONNECT_DEADLINE=3s
 *   BACKSTOP_DEST_<NAME>_<KEY>    BACKSTOP_DEST_DB_MAX_CONNS=20
 *   BACKSTOP_WRAP_<SYMBOL>_<KEY>  BACKSTOP_WRAP_SQLITE3_STEP_DEADLINE=10s
 *                                 (a [wrap] section of the file only)
 *   BACKSTOP_LOG, BACKSTOP_SEED   short forms of the [global] keys
 *   BACKSTOP_POLICY               the file (read by bs_policy_load)
 *   BACKSTOP_TEST_*               reserved for tests, ignored here
 *
 * NAME is the rule name upper-cased with '-' and '.' as '_'; the NAME/KEY
 * split is found by matching the known key names at the end. Any other
 * BACKSTOP_* name is an error, so a typo never passes silently. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "policy/load_internal.h"

#define PREFIX "BACKSTOP_"
#define VAR_MAX 256

static const char *const short_keys[] = {"log", "seed"}; /* BACKSTOP_LOG, BACKSTOP_SEED */

const char *bs_env_get(char *const *envp, const char *name)
{
	size_t n = strlen(name);
	for (; *envp; envp++)
		if (strncmp(*envp, name, n) == 0 && (*envp)[n] == '=')
			return *envp + n + 1;
	return NULL;
}

/* Upper case, '-' and '.' as '_': how names appear in variables. */
static void mangle(char *dst, size_t cap, const char *src)
{
	size_t i = 0;
	for (; src[i] && i + 1 < cap; i++)
		dst[i] = src[i] == '-' || src[i] == '.' ? '_'
						       : (char)toupper((unsigned char)src[i]);
	dst[i] = '\0';
}

void bs_env_name(const struct bs_policy *p, const struct bs_key *k, size_t r,
		 bool short_form, char *buf, size_t cap)
{
	char key[64], owner[BS_NAME_MAX + 8];
	mangle(key, sizeof key, k->name);
	if (short_form)
		snprintf(buf, cap, PREFIX "%s", key);
	else if (k->scope == BS_SC_WRAP) {
		mangle(owner, sizeof owner, p->wraps[r].symbol);
		snprintf(buf, cap, PREFIX "WRAP_%s_%s", owner, key);
	} else if (k->scope == BS_SC_RULE && r > 0) {
		mangle(owner, sizeof owner, p->rules[r].name);
		snprintf(buf, cap, PREFIX "DEST_%s_%s", owner, key);
	} else {
		mangle(owner, sizeof owner, bs_scope_name(k->scope));
		snprintf(buf, cap, PREFIX "%s_%s", owner, key);
	}
}

struct env_ctx {
	struct bs_policy *p;
	struct bs_error *err;
	char var[VAR_MAX]; /* the variable being handled */
};

__attribute__((format(printf, 2, 3))) static int fail(struct env_ctx *c,
						       const char *fmt, ...)
{
	char q[80];
	bs_quote(q, sizeof q, c->var);
	int n = snprintf(c->err->msg, sizeof c->err->msg, "%s: ", q);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->err->msg + n, sizeof c->err->msg - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

/* The variable a user most likely meant, for "did you mean". */
static const char *suggest_var(const char *var, char names[][48], size_t max)
{
	const char *cands[64];
	size_t n = 0;
	snprintf(names[n], 48, PREFIX "POLICY");
	cands[n] = names[n];
	n++;
	for (int s = 0; s < BS_SC_COUNT; s++) {
		if (s == BS_SC_WRAP)
			continue; /* only per symbol */
		size_t nk;
		const struct bs_key *k = bs_scope_keys((enum bs_scope)s, &nk);
		for (size_t i = 0; i < nk && n < max; i++) {
			if (k[i].dest_only)
				continue;
			bs_env_name(NULL, &k[i], 0, false, names[n], 48);
			cands[n] = names[n];
			n++;
		}
	}
	for (size_t i = 0; i < 2 && n < max; i++) {
		bs_env_name(NULL, bs_key_find(BS_SC_GLOBAL, short_keys[i], false), 0, true,
			    names[n], 48);
		cands[n] = names[n];
		n++;
	}
	return bs_closest(var, cands, n);
}

static int unknown_var(struct env_ctx *c)
{
	char names[64][48];
	const char *near = suggest_var(c->var, names, 64);
	if (near)
		return fail(c, "unknown variable (did you mean %s?)", near);
	return fail(c, "unknown variable (backstop reads BACKSTOP_POLICY, BACKSTOP_LOG, BACKSTOP_SEED, "
		       "BACKSTOP_<SECTION>_<KEY>, BACKSTOP_DEST_<NAME>_<KEY> and "
		       "BACKSTOP_WRAP_<SYMBOL>_<KEY>; see docs/policy.md)");
}

/* The rule whose mangled name is `name` (len bytes): its index, 0 when
 * none, -1 when two rules share the mangled name. */
static long find_rule(const struct bs_policy *p, const char *name, size_t len)
{
	long found = 0;
	char m[BS_NAME_MAX];
	if (len >= BS_NAME_MAX)
		return 0;
	for (size_t r = 1; r < p->n_rules; r++) {
		mangle(m, sizeof m, p->rules[r].name);
		if (strlen(m) == len && memcmp(m, name, len) == 0) {
			if (found)
				return -1;
			found = (long)r;
		}
	}
	return found;
}

/* The wrap whose mangled symbol is `name` (len bytes), as find_rule. */
static long find_wrap(const struct bs_policy *p, const char *name, size_t len)
{
	long found = 0;
	char m[BS_NAME_MAX];
	for (size_t w = 1; w < p->n_wraps && len < BS_NAME_MAX; w++) {
		mangle(m, sizeof m, p->wraps[w].symbol);
		if (strlen(m) == len && memcmp(m, name, len) == 0) {
			if (found)
				return -1;
			found = (long)w;
		}
	}
	return found;
}

/* Split "NAME_KEY" (after BACKSTOP_DEST_ or BACKSTOP_WRAP_) at the
 * longest known key of the scope. */
static const struct bs_key *split_named(enum bs_scope scope, const char *rest,
					size_t *name_len)
{
	size_t n, len = strlen(rest), best_len = 0;
	const struct bs_key *keys = bs_scope_keys(scope, &n), *best = NULL;
	char key[64];
	for (size_t i = 0; i < n; i++) {
		mangle(key, sizeof key, keys[i].name);
		size_t kl = strlen(key);
		if (len > kl + 1 && rest[len - kl - 1] == '_' &&
		    strcmp(rest + len - kl, key) == 0 && kl > best_len) {
			best = &keys[i];
			best_len = kl;
		}
	}
	*name_len = best ? len - best_len - 1 : 0;
	return best;
}

static bool is_mangled_name(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!isupper((unsigned char)s[i]) && !isdigit((unsigned char)s[i]) && s[i] != '_')
			return false;
	return len > 0 && len < BS_NAME_MAX;
}

static int unknown_key_of(struct env_ctx *c, enum bs_scope scope, const char *form)
{
	size_t n;
	const struct bs_key *keys = bs_scope_keys(scope, &n);
	char allowed[400] = "", up[64];
	for (size_t i = 0, o = 0; i < n; i++) {
		mangle(up, sizeof up, keys[i].name);
		o += (size_t)snprintf(allowed + o, sizeof allowed - o, "%s%s", o ? " " : "", up);
	}
	return fail(c, "unknown variable: %s needs one of the keys %s", form, allowed);
}

/* A wrap variable: only for a symbol the file declares (a symbol's case
 * cannot be told from a variable name). */
static int wrap_var(struct env_ctx *c, const char *value)
{
	size_t name_len;
	const char *rest = c->var + strlen(PREFIX "WRAP_");
	const struct bs_key *k = split_named(BS_SC_WRAP, rest, &name_len);
	if (!k)
		return unknown_key_of(c, BS_SC_WRAP, "BACKSTOP_WRAP_<SYMBOL>_<KEY>");
	long w = find_wrap(c->p, rest, name_len);
	if (w < 0)
		return fail(c, "two [wrap] sections have symbols that both read %.*s here",
			    (int)name_len, rest);
	if (w == 0)
		return fail(c, "no [wrap] section declares %.*s (declare the wrapper in the policy "
			       "file; the environment only changes its keys)",
			    (int)name_len, rest);
	char why[BS_WHY_MAX];
	if (bs_key_set(c->p, k, (size_t)w, value, false, BS_ORIGIN_ENV, why, sizeof why) != 0)
		return fail(c, "%s", why);
	return 0;
}

/* A dest variable: resolve its rule, creating it for a _MATCH variable
 * when `create` (the first pass) and no rule has that name. */
static int dest_var(struct env_ctx *c, const char *value, bool create)
{
	size_t name_len;
	const char *rest = c->var + strlen(PREFIX "DEST_");
	const struct bs_key *k = split_named(BS_SC_RULE, rest, &name_len);
	if (!k)
		return unknown_key_of(c, BS_SC_RULE, "BACKSTOP_DEST_<NAME>_<KEY>");
	if (!is_mangled_name(rest, name_len))
		return fail(c, "the rule name must be written upper-case, with '_' for '-' and '.' "
			       "(a rule \"db-main\" is BACKSTOP_DEST_DB_MAIN_...)");
	long r = find_rule(c->p, rest, name_len);
	if (r < 0)
		return fail(c, "two [dest] rules have names that both read %.*s here; rename one",
			    (int)name_len, rest);
	if (create) {
		if (r == 0 && strcmp(k->name, "match") == 0) {
			char name[BS_NAME_MAX];
			for (size_t i = 0; i < name_len; i++)
				name[i] = (char)tolower((unsigned char)rest[i]);
			name[name_len] = '\0';
			if (bs_policy_add_rule(c->p, name, 0) < 0)
				return fail(c, "out of memory");
		}
		return 0;
	}
	if (r == 0)
		return fail(c, "no [dest] rule is named %.*s (to create one from the environment, "
			       "set " PREFIX "DEST_%.*s_MATCH too)",
			    (int)name_len, rest, (int)name_len, rest);
	char why[BS_WHY_MAX];
	if (bs_key_set(c->p, k, (size_t)r, value, false, BS_ORIGIN_ENV, why, sizeof why) != 0)
		return fail(c, "%s", why);
	return 0;
}

/* A section variable, or a short form. */
static int section_var(struct env_ctx *c, const char *value)
{
	const char *rest = c->var + strlen(PREFIX);
	for (size_t i = 0; i < 2; i++) {
		char up[16];
		mangle(up, sizeof up, short_keys[i]);
		if (strcmp(rest, up) != 0)
			continue;
		const struct bs_key *k = bs_key_find(BS_SC_GLOBAL, short_keys[i], false);
		char longname[48], why[BS_WHY_MAX];
		bs_env_name(c->p, k, 0, false, longname, sizeof longname);
		if (bs_origin_get(c->p, k, 0) == BS_ORIGIN_ENV)
			return fail(c, "%s is set too; set only one of them", longname);
		if (bs_key_set(c->p, k, 0, value, false, BS_ORIGIN_ENV_SHORT, why, sizeof why) != 0)
			return fail(c, "%s", why);
		return 0;
	}
	for (int s = 0; s < BS_SC_COUNT; s++) {
		char sec[16];
		if (s == BS_SC_WRAP)
			continue; /* wrap_var */
		mangle(sec, sizeof sec, bs_scope_name((enum bs_scope)s));
		size_t sl = strlen(sec);
		if (strncmp(rest, sec, sl) != 0 || rest[sl] != '_')
			continue;
		size_t n;
		const struct bs_key *keys = bs_scope_keys((enum bs_scope)s, &n);
		for (size_t i = 0; i < n; i++) {
			char up[64], why[BS_WHY_MAX];
			mangle(up, sizeof up, keys[i].name);
			if (keys[i].dest_only || strcmp(rest + sl + 1, up) != 0)
				continue;
			if (bs_origin_get(c->p, &keys[i], 0) == BS_ORIGIN_ENV_SHORT)
				return fail(c, PREFIX "%s is set too; set only one of them", up);
			if (bs_key_set(c->p, &keys[i], 0, value, false, BS_ORIGIN_ENV, why, sizeof why) != 0)
				return fail(c, "%s", why);
			return 0;
		}
	}
	return unknown_var(c);
}

/* Copy the name of "NAME=VALUE"; false when it is not ours to handle. */
static bool our_var(struct env_ctx *c, const char *entry, const char **value)
{
	const char *eq = strchr(entry, '=');
	if (strncmp(entry, PREFIX, strlen(PREFIX)) != 0 || !eq)
		return false;
	size_t len = (size_t)(eq - entry);
	snprintf(c->var, sizeof c->var, "%.*s", (int)(len < VAR_MAX ? len : VAR_MAX - 1), entry);
	*value = eq + 1;
	if (len >= VAR_MAX)
		return true; /* reported as unknown */
	return strcmp(c->var, PREFIX "POLICY") != 0 &&
	       strncmp(c->var, PREFIX "TEST_", strlen(PREFIX "TEST_")) != 0;
}

int bs_apply_env(struct bs_policy *p, char *const *envp, bool *applied,
		 struct bs_error *err)
{
	struct env_ctx c = {.p = p, .err = err};
	const char *value;
	bool is_dest;
	/* First pass: rules that the environment creates, so the order of
	 * variables does not matter. */
	for (char *const *e = envp; *e; e++) {
		is_dest = our_var(&c, *e, &value) &&
			  strncmp(c.var, PREFIX "DEST_", strlen(PREFIX "DEST_")) == 0;
		if (is_dest && dest_var(&c, value, true) != 0)
			return -1;
	}
	for (char *const *e = envp; *e; e++) {
		if (!our_var(&c, *e, &value))
			continue;
		if (strlen(*e) - strlen(value) - 1 >= VAR_MAX)
			return unknown_var(&c);
		is_dest = strncmp(c.var, PREFIX "DEST_", strlen(PREFIX "DEST_")) == 0;
		bool is_wrap = strncmp(c.var, PREFIX "WRAP_", strlen(PREFIX "WRAP_")) == 0;
		if ((is_dest ? dest_var(&c, value, false)
			     : is_wrap ? wrap_var(&c, value) : section_var(&c, value)) != 0)
			return -1;
		*applied = true;
	}
	return 0;
}
