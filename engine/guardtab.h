/* Where budgets and breakers live: a fixed table of budgets (one per rule
 * name) and breakers (one per rule name and destination). The same
 * layout serves one process (allocated by the preload) and the machine
 * (inside the state file, engine/shm.h): no pointers, all-zero is empty,
 * and an entry is claimed with one compare-and-swap of its key, so
 * processes may claim entries concurrently and die at any instruction.
 * A full table leaves further keys unguarded (fail open). */
#ifndef BS_GUARDTAB_H
#define BS_GUARDTAB_H

#include "engine/guard.h"
#include "policy/dest.h"

#define BS_GUARD_BUDGETS 64
#define BS_GUARD_BREAKERS 1024

struct bs_guard_budget_entry {
	_Atomic uint64_t key;          /* hash of the rule name; 0: free */
	char rule[BS_NAME_MAX];        /* for `backstop state` */
	struct bs_budget budget;
};

struct bs_guard_breaker_entry {
	_Atomic uint64_t key;          /* hash of rule name and dest; 0: free */
	char rule[BS_NAME_MAX];
	char dest[BS_DEST_MAX];
	struct bs_breaker breaker;
};

struct bs_guard_table {
	struct bs_guard_budget_entry budgets[BS_GUARD_BUDGETS];
	struct bs_guard_breaker_entry breakers[BS_GUARD_BREAKERS];
};

/* The budget of a rule, or the breaker of a rule's destination: found or
 * claimed; NULL when the table is full. */
struct bs_budget *bs_guard_table_budget(struct bs_guard_table *t, const char *rule);
struct bs_breaker *bs_guard_table_breaker(struct bs_guard_table *t, const char *rule,
					  const char *dest);

/* The dest and rule a guard's log lines name. */
struct bs_guard_names {
	const char *dest, *rule;
};

/* The guard of calls to dest under rule, with budget and breaker from t
 * (share names t's scope in the log: "process" or "machine"). Returns g,
 * or NULL when the rule asks for neither (or t is NULL). names must
 * outlive g. */
const struct bs_guard *bs_guard_for(struct bs_guard *g, struct bs_guard_names *names,
				    struct bs_guard_table *t, const struct bs_rule *rule,
				    const char *dest, const char *share);

#endif
