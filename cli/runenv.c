/* The environment `backstop run` builds for the command. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "cli/runenv.h"

static int grow(struct runenv *env)
{
	if (env->n + 1 < env->cap)
		return 0;
	size_t cap = env->cap ? env->cap * 2 : 64;
	char **vars = realloc(env->vars, cap * sizeof *vars);
	if (!vars)
		return -1;
	env->vars = vars;
	env->cap = cap;
	return 0;
}

int runenv_init(struct runenv *env, char *const *envp)
{
	*env = (struct runenv){ 0 };
	if (grow(env) != 0)
		return -1;
	for (; envp && *envp; envp++) {
		if (grow(env) != 0 || !(env->vars[env->n] = strdup(*envp)))
			return -1;
		env->n++;
	}
	env->vars[env->n] = NULL;
	return 0;
}

void runenv_free(struct runenv *env)
{
	for (size_t i = 0; i < env->n; i++)
		free(env->vars[i]);
	free(env->vars);
	*env = (struct runenv){ 0 };
}

static char **find(const struct runenv *env, const char *name)
{
	size_t len = strlen(name);
	for (size_t i = 0; i < env->n; i++)
		if (strncmp(env->vars[i], name, len) == 0 && env->vars[i][len] == '=')
			return &env->vars[i];
	return NULL;
}

const char *runenv_get(const struct runenv *env, const char *name)
{
	char **slot = find(env, name);
	return slot ? strchr(*slot, '=') + 1 : NULL;
}

int runenv_set(struct runenv *env, const char *name, const char *value)
{
	size_t len = strlen(name) + strlen(value) + 2;
	char *var = malloc(len);
	if (!var)
		return -1;
	strcpy(var, name);
	strcat(var, "=");
	strcat(var, value);
	char **slot = find(env, name);
	if (slot) {
		free(*slot);
		*slot = var;
		return 0;
	}
	if (grow(env) != 0) {
		free(var);
		return -1;
	}
	env->vars[env->n++] = var;
	env->vars[env->n] = NULL;
	return 0;
}

int runenv_setting_name(char *buf, size_t cap, const char *key, size_t keylen)
{
	static const char prefix[] = "BACKSTOP_";
	const char *dot = memchr(key, '.', keylen);
	if (!dot || dot == key || dot == key + keylen - 1 ||
	    sizeof prefix + keylen > cap)
		return -1;
	char *out = buf + strlen(strcpy(buf, prefix));
	for (size_t i = 0; i < keylen; i++) {
		unsigned char c = (unsigned char)key[i];
		if (c == '.' || c == '-')
			*out++ = '_';
		else if (isalnum(c) || c == '_')
			*out++ = (char)toupper(c);
		else
			return -1;
	}
	*out = '\0';
	return 0;
}

/* Sanitizer runtimes refuse to run unless they are the first preload. */
static int is_sanitizer_runtime(const char *entry, size_t len)
{
	static const char *const names[] = { "libasan", "libtsan", "libubsan", "liblsan" };
	const char *base = entry;
	for (size_t i = 0; i < len; i++)
		if (entry[i] == '/')
			base = entry + i + 1;
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strncmp(base, names[i], strlen(names[i])) == 0)
			return 1;
	return 0;
}

/* Append entry[0..len) to out, separated by ':'. */
static void append(char *out, const char *entry, size_t len)
{
	size_t at = strlen(out);
	if (at)
		out[at++] = ':';
	memcpy(out + at, entry, len);
	out[at + len] = '\0';
}

/* LD_PRELOAD entries are separated by colons or spaces (ld.so(8)). */
static const char seps[] = ": \t";

/* Copy the entries of old to out, keeping only those for which
 * is_sanitizer_runtime equals want, and never lib itself. */
static void copy_entries(char *out, const char *old, const char *lib, int want)
{
	for (const char *p = old; *p;) {
		size_t len = strcspn(p, seps);
		int same = len == strlen(lib) && strncmp(p, lib, len) == 0;
		if (len && !same && is_sanitizer_runtime(p, len) == want)
			append(out, p, len);
		p += len;
		p += strspn(p, seps);
	}
}

int runenv_preload(struct runenv *env, const char *lib)
{
	const char *old = runenv_get(env, "LD_PRELOAD");
	if (!old)
		old = "";
	char *value = malloc(strlen(old) + strlen(lib) + 2);
	if (!value)
		return -1;
	value[0] = '\0';
	copy_entries(value, old, lib, 1);
	append(value, lib, strlen(lib));
	copy_entries(value, old, lib, 0);
	int rc = runenv_set(env, "LD_PRELOAD", value);
	free(value);
	return rc;
}
