/* The environment parser: lines of the input become an envp array
 * (BACKSTOP_* or anything else) given to bs_policy_load. A bad variable
 * must be named in the error. */
#include <stdio.h>

#include "policy/policy.h"
#include "tests/fuzz/fuzz.h"

#define MAX_VARS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *devnull;
	if (!devnull)
		devnull = fopen("/dev/null", "w");
	char *text = fuzz_cstr(data, size);
	char *envp[MAX_VARS + 1];
	size_t n = 0;
	for (char *save = NULL, *line = strtok_r(text, "\n", &save);
	     line && n < MAX_VARS; line = strtok_r(NULL, "\n", &save))
		/* BACKSTOP_POLICY names a file to read: fuzz_policy_file's job,
		 * and a path like /dev/zero would only test the disk. */
		if (strncmp(line, "BACKSTOP_POLICY=", 16) != 0)
			envp[n++] = line;
	envp[n] = NULL;

	struct bs_load_options opts = {.envp = envp};
	struct bs_policy *p = NULL;
	struct bs_error err;
	if (bs_policy_load(&opts, &p, &err) == 0) {
		bs_policy_describe(p, devnull);
		bs_policy_free(p);
	} else {
		FUZZ_ASSERT(p == NULL);
		FUZZ_ASSERT(strncmp(err.msg, "BACKSTOP_", 9) == 0);
	}
	free(text);
	return 0;
}
