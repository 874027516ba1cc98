/* Loading a policy: defaults, then the file, then the environment, then
 * inheritance ([dest] rules take what they do not set from [connect]),
 * cross-key validation and the lookup tables. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy/load_internal.h"

/* Under secure execution the environment cannot name a policy; this
 * system-wide one applies when it exists (and passes bs_file_trusted). */
#define SECURE_POLICY_PATH "/etc/backstop.conf"

__attribute__((format(printf, 2, 3))) static int fail(struct bs_error *err,
						       const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof err->msg, fmt, ap);
	va_end(ap);
	return -1;
}

/* A relative BACKSTOP_POLICY names a file in the directory the process
 * started in, but every child inherits the variable and would look for
 * it from its own working directory, failing (status 78) wherever that
 * differs. So it is resolved once, here, against the working directory
 * at start-up: the policy's source is the absolute path, and the preload
 * hands that on to its children (preload/runtime.c). Refusing it would
 * break the natural `BACKSTOP_POLICY=policy.ini prog`; resolving it keeps
 * that working for the whole process tree. Symbolic links are kept (no
 * realpath): the name means what it meant to the operator. */
static const char *make_absolute(const char *path, char out[PATH_MAX],
				 struct bs_error *err)
{
	if (!getcwd(out, PATH_MAX))
		return fail(err, "BACKSTOP_POLICY: relative path '%s' and the working directory is unknown (%s); give an absolute path",
			    path, strerror(errno)), NULL;
	size_t n = strlen(out);
	if (n + 1 + strlen(path) + 1 > PATH_MAX)
		return fail(err, "BACKSTOP_POLICY: '%s/%s' is too long", out, path), NULL;
	snprintf(out + n, PATH_MAX - n, "%s%s", n > 0 && out[n - 1] == '/' ? "" : "/", path);
	return out;
}

static void inherit_from_connect(struct bs_policy *p)
{
	size_t n;
	const struct bs_key *keys = bs_scope_keys(BS_SC_RULE, &n);
	for (size_t r = 1; r < p->n_rules; r++) {
		for (size_t i = 0; i < n; i++) {
			const struct bs_key *k = &keys[i];
			if (k->dest_only || bs_origin_get(p, k, r) != BS_ORIGIN_DEFAULT)
				continue;
			memcpy((char *)&p->rules[r] + k->off,
			       (const char *)&p->rules[0] + k->off, k->size);
		}
	}
}

/* A key's value (hi) must not be below another's (lo), both of section
 * scope, rule r: max_delay and base, breaker_cooldown_max and
 * breaker_cooldown. The error names where the offending value was set:
 * hi's origin when set there, else lo's. */
static int check_order(const struct bs_policy *p, enum bs_scope scope, size_t r,
		       const char *hi_name, bs_ns hi, const char *lo_name, bs_ns lo,
		       struct bs_error *err)
{
	if (hi >= lo)
		return 0;
	const struct bs_key *khi = bs_key_find(scope, hi_name, false);
	const struct bs_key *klo = bs_key_find(scope, lo_name, false);
	const struct bs_key *blame = bs_origin_get(p, khi, r) != BS_ORIGIN_DEFAULT ||
					     (r > 0 && bs_origin_get(p, klo, r) == BS_ORIGIN_DEFAULT)
				     ? khi : klo;
	char where[BS_WHY_MAX], sec[BS_NAME_MAX + 16], vhi[32], vlo[32];
	bs_origin_text(p, blame, r, where, sizeof where);
	bs_section_text(p, scope, r, sec, sizeof sec);
	bs_format_duration(vhi, sizeof vhi, hi);
	bs_format_duration(vlo, sizeof vlo, lo);
	return fail(err, "%s: %s %s (%s) is less than %s (%s); raise %s or lower %s",
		    where, sec, hi_name, vhi, lo_name, vlo, hi_name, lo_name);
}

static int check_backoff(const struct bs_policy *p, enum bs_scope scope, size_t r,
			 const struct bs_backoff_params *b, struct bs_error *err)
{
	return check_order(p, scope, r, "max_delay", b->max_delay, "base", b->base, err);
}

/* breaker_cooldown_max 0 means "10 x breaker_cooldown", never too low. */
static int check_cooldown(const struct bs_policy *p, size_t r, struct bs_error *err)
{
	const struct bs_rule *rule = &p->rules[r];
	if (rule->breaker_cooldown_max == 0)
		return 0;
	return check_order(p, BS_SC_RULE, r, "breaker_cooldown_max", rule->breaker_cooldown_max,
			   "breaker_cooldown", rule->breaker_cooldown, err);
}

/* share = machine needs somewhere to share: the state file. */
static int check_machine(struct bs_policy *p, size_t r, struct bs_error *err)
{
	p->any_machine = true;
	if (p->global.state_path != NULL)
		return 0;
	char where[BS_WHY_MAX], sec[BS_NAME_MAX + 16];
	bs_origin_text(p, bs_key_find(BS_SC_RULE, "share", r > 0), r, where, sizeof where);
	bs_section_text(p, BS_SC_RULE, r, sec, sizeof sec);
	return fail(err, "%s: %s share = machine needs a state file: set [global] state = /dev/shm/backstop.state (or share = process)",
		    where, sec);
}

static int by_name(const void *a, const void *b, void *ctx)
{
	const struct bs_rule *rules = ctx;
	int c = strcmp(rules[*(const size_t *)a].name, rules[*(const size_t *)b].name);
	if (c)
		return c;
	return *(const size_t *)a < *(const size_t *)b ? -1 : 1;
}

/* Dest names are unique: sort once (n log n) rather than compare pairs. */
static int check_unique_names(const struct bs_policy *p, struct bs_error *err)
{
	if (p->n_rules < 3)
		return 0;
	size_t n = p->n_rules - 1, *idx = malloc(n * sizeof *idx);
	if (!idx)
		return fail(err, "out of memory");
	for (size_t i = 0; i < n; i++)
		idx[i] = i + 1;
	qsort_r(idx, n, sizeof *idx, by_name, p->rules);
	int rc = 0;
	for (size_t i = 1; i < n && rc == 0; i++) {
		if (strcmp(p->rules[idx[i]].name, p->rules[idx[i - 1]].name) == 0)
			rc = fail(err, "%s:%u: duplicate [dest \"%s\"] (first at line %u); names must be unique",
				  p->origins->file, p->origins->rule_line[idx[i]],
				  p->rules[idx[i]].name, p->origins->rule_line[idx[i - 1]]);
	}
	free(idx);
	return rc;
}

static int finalize(struct bs_policy *p, struct bs_error *err)
{
	inherit_from_connect(p);
	for (size_t r = 0; r < p->n_rules; r++) {
		struct bs_rule *rule = &p->rules[r];
		rule->index = (uint32_t)r;
		if (r > 0 && rule->n_match == 0)
			return fail(err, "%s:%u: [dest \"%s\"] has no 'match' (add e.g. match = 10.0.0.0/8:5432)",
				    p->origins->file, p->origins->rule_line[r], rule->name);
		if (check_backoff(p, BS_SC_RULE, r, &rule->backoff, err) != 0 ||
		    check_cooldown(p, r, err) != 0)
			return -1;
		if (rule->max_conns > 0)
			p->any_caps = true;
		if (rule->share == BS_SHARE_MACHINE && check_machine(p, r, err) != 0)
			return -1;
	}
	for (size_t w = 1; w < p->n_wraps; w++)
		if (check_backoff(p, BS_SC_WRAP, w, &p->wraps[w].backoff, err) != 0)
			return -1;
	if (check_backoff(p, BS_SC_ACCEPT, 0, &p->accept.backoff, err) != 0 ||
	    check_backoff(p, BS_SC_DNS, 0, &p->dns.backoff, err) != 0 ||
	    check_unique_names(p, err) != 0 || bs_wraps_finalize(p, err) != 0)
		return -1;
	return bs_matcher_build(p, err) != 0 ? -1 : bs_name_matcher_build(p, err);
}

int bs_policy_load(const struct bs_load_options *opts, struct bs_policy **out,
		   struct bs_error *err)
{
	char *const *envp = opts->secure ? NULL : opts->envp;
	const char *path = opts->path;
	*out = NULL;
	err->msg[0] = '\0';
	char absolute[PATH_MAX];
	if (!path && envp) {
		path = bs_env_get(envp, "BACKSTOP_POLICY");
		if (path && !*path)
			return fail(err, "BACKSTOP_POLICY: empty (set it to a policy file, or unset it for the built-in policy)");
		if (path && *path != '/' && !(path = make_absolute(path, absolute, err)))
			return -1;
	}
	struct stat st;
	if (!path && opts->secure && stat(SECURE_POLICY_PATH, &st) == 0)
		path = SECURE_POLICY_PATH;
	/* A setuid program, or root: a file others can write must not steer
	 * it. Root is included because a root daemon's log path is as good a
	 * lever as a setuid program's (docs/reliability.md). */
	const bool privileged = opts->secure || geteuid() == 0;
	struct bs_policy *p = bs_policy_new_default();
	if (!p)
		return fail(err, "out of memory");
	bool env_applied = false;
	if (path && !(p->origins->file = strdup(path))) {
		fail(err, "out of memory");
		goto bad;
	}
	if ((path && bs_parse_file(p, path, privileged, err) != 0) ||
	    (envp && bs_apply_env(p, envp, &env_applied, err) != 0) ||
	    finalize(p, err) != 0)
		goto bad;
	const char *base = path ? path : "built-in";
	size_t len = strlen(base) + sizeof "+env";
	if (!(p->source = malloc(len))) {
		fail(err, "out of memory");
		goto bad;
	}
	snprintf(p->source, len, "%s%s", base, env_applied ? "+env" : "");
	*out = p;
	return 0;
bad:
	bs_policy_free(p);
	return -1;
}

const char *bs_policy_file(const struct bs_policy *p)
{
	return p->origins ? p->origins->file : NULL;
}

int bs_policy_builtin(struct bs_policy **out, struct bs_error *err)
{
	struct bs_load_options opts = {.path = NULL, .envp = NULL, .secure = false};
	return bs_policy_load(&opts, out, err);
}
