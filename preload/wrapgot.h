/* Redirecting calls of declared wrappers by rewriting the GOT slots of
 * every loaded object (see docs/wrap.md for why this technique). */
#ifndef BS_WRAPGOT_H
#define BS_WRAPGOT_H

#include <stdbool.h>
#include <stddef.h>

struct bs_got_target {
	const char *symbol;
	const char *library; /* "": the first loaded object that defines it */
	void *real;          /* the definition; NULL until found (atomic) */
	void *code;          /* where redirected calls go */
	bool ifunc;          /* found, but as a GNU indirect function: not wrapped */
	bool library_seen;   /* an object named library is loaded */
	bool loaded;         /* scratch: real lies in a loaded object */
};

/* Look up, in load order, the definitions of the targets that have none
 * yet, or whose definition is no longer loaded (its library was dlclose'd:
 * a later load may put it elsewhere). Returns how many targets still have
 * none. */
size_t bs_got_resolve(struct bs_got_target *targets, size_t n);

/* Point every slot that binds a found target's symbol to its definition
 * at target->code, in every loaded object but the defining one (which
 * defines the symbol itself) and this library: lazy and -z now slots,
 * function pointers (GLOB_DAT, ABS64), RELRO pages included (made
 * writable for the write and put back as they were). Returns how many
 * slots were rewritten. Callers serialise. */
size_t bs_got_redirect(const struct bs_got_target *targets, size_t n);

#endif
