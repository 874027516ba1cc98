/* The environment `backstop run` hands to the command: a private copy of
 * environ with the BACKSTOP_* settings and LD_PRELOAD applied. */
#ifndef BS_CLI_RUNENV_H
#define BS_CLI_RUNENV_H

#include <stddef.h>

struct runenv {
	char **vars; /* NULL-terminated, as execve wants it */
	size_t n, cap;
};

/* Start from a copy of envp. Returns 0, or -1 when out of memory. */
int runenv_init(struct runenv *env, char *const *envp);
/* Free the copy (also one runenv_init left half made). */
void runenv_free(struct runenv *env);
/* Set NAME=VALUE, replacing an existing NAME. Returns 0 or -1. */
int runenv_set(struct runenv *env, const char *name, const char *value);
const char *runenv_get(const struct runenv *env, const char *name);

/* The variable a `-s KEY=VALUE` setting stands for: "connect.deadline"
 * gives "BACKSTOP_CONNECT_DEADLINE", "dest.db.max_conns" gives
 * "BACKSTOP_DEST_DB_MAX_CONNS". Returns 0, or -1 when KEY is not
 * SECTION.KEY made of letters, digits, '_' and '-'. */
int runenv_setting_name(char *buf, size_t cap, const char *key, size_t keylen);

/* Put lib first in LD_PRELOAD, keeping the other entries (and dropping an
 * existing copy of lib). A sanitizer runtime already listed stays in
 * front, where it must be. Returns 0 or -1. */
int runenv_preload(struct runenv *env, const char *lib);

#endif
