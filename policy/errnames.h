/* errno <-> symbolic name ("ECONNREFUSED"), from a static table.
 * Async-signal-safe. */
#ifndef BS_ERRNAMES_H
#define BS_ERRNAMES_H

/* The symbolic name of err, or NULL when unknown. */
const char *bs_errno_name(int err);
/* The errno value of a symbolic name, or 0 when unknown. Case-sensitive. */
int bs_errno_from_name(const char *name);

#endif
