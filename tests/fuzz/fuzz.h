/* Shared by the libFuzzer targets in tests/fuzz/ (see mk/fuzz.mk). */
#ifndef BS_FUZZ_H
#define BS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The input as a C string (it may hold NULs: the string ends at the
 * first). Never NULL; free() it. */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (!s)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/* A failed property: abort so libFuzzer keeps the input. */
#define FUZZ_ASSERT(cond)                                                       \
	do {                                                                    \
		if (!(cond)) {                                                  \
			__builtin_printf("fuzz property failed: %s (%s:%d)\n", \
					 #cond, __FILE__, __LINE__);            \
			abort();                                                \
		}                                                               \
	} while (0)

#endif
