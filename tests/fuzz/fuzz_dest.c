/* bs_dest_parse: what parses formats back to text that parses to the same
 * address (the text the log and `backstop explain` show). */
#include <sys/socket.h>

#include "policy/dest.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_cstr(data, size);
	struct sockaddr_storage ss, again;
	socklen_t len = 0, len2 = 0;
	if (bs_dest_parse(s, &ss, &len) == 0) {
		char text[BS_DEST_MAX];
		FUZZ_ASSERT(len > 0 && len <= sizeof ss);
		size_t n = bs_dest_format(text, sizeof text, (struct sockaddr *)&ss, len);
		FUZZ_ASSERT(n > 0 && n < sizeof text && text[n] == '\0');
		FUZZ_ASSERT(bs_dest_parse(text, &again, &len2) == 0);
		FUZZ_ASSERT(len2 == len && memcmp(&again, &ss, len) == 0);
	}
	free(s);
	return 0;
}
