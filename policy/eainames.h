/* getaddrinfo's EAI_* codes <-> their names, and the sets of them that
 * [dns] retry_on holds. Async-signal-safe lookups. */
#ifndef BS_EAINAMES_H
#define BS_EAINAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A set of EAI codes (negative numbers -1..-31): bit -code. */
typedef uint32_t bs_eaiset;

static inline bool bs_eaiset_has(bs_eaiset set, int code)
{
	return code < 0 && code > -32 && ((set >> -code) & 1u);
}

/* "EAI_AGAIN" for EAI_AGAIN; NULL when unknown. */
const char *bs_eai_name(int code);

/* Names separated by spaces or commas, as the set they name. Only the
 * codes a later lookup may answer differently are allowed (EAI_AGAIN,
 * EAI_FAIL, EAI_NONAME, EAI_NODATA, EAI_ADDRFAMILY, EAI_MEMORY,
 * EAI_SYSTEM); a program's own mistakes (EAI_BADFLAGS, ...) are refused
 * with why[cap] saying so. */
int bs_parse_eainames(const char *s, bs_eaiset *out, char *why, size_t cap);

/* The set as the parser reads it, in code order. */
void bs_format_eaiset(char *buf, size_t cap, bs_eaiset set);

#endif
