/* bs_json_escape: whatever the bytes and the room, the output between
 * quotes is one valid JSON string (jansson decides, and it also rejects
 * invalid UTF-8), never longer than the room. When everything fit and the
 * input was valid UTF-8, it decodes back to the input exactly. */
#include <jansson.h>

#include "engine/log.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	size_t cap = ((size_t)data[0] << 8 | data[1]) % 4096; /* the room */
	const char *src = (const char *)data + 2;
	size_t len = size - 2;

	char *out = malloc(cap + 2), *quoted = malloc(cap + 3);
	FUZZ_ASSERT(out && quoted);
	size_t n = bs_json_escape(out, cap, src, len);
	FUZZ_ASSERT(cap == 0 ? n == 0 : n < cap && strlen(out) == n);

	quoted[0] = '"';
	memcpy(quoted + 1, out, n);
	quoted[n + 1] = '"';
	json_error_t jerr;
	json_t *j = json_loadb(quoted, n + 2, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
	if (!j)
		__builtin_printf("not a JSON string: %s\n", jerr.text);
	FUZZ_ASSERT(j && json_is_string(j));

	/* Valid UTF-8 in: what came out is a prefix of the input, cut at a
	 * character boundary (jansson accepted it), and all of it when the
	 * room allowed. */
	json_t *orig = json_stringn(src, len); /* NULL: not valid UTF-8 */
	size_t got = json_string_length(j);
	if (orig) {
		FUZZ_ASSERT(got <= len && memcmp(json_string_value(j), src, got) == 0);
		FUZZ_ASSERT(got == len || cap < 6 * len + 1);
	}
	json_decref(orig);
	json_decref(j);
	free(out);
	free(quoted);
	return 0;
}
