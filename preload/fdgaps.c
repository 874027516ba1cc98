/* See fdgaps.h. */
#include "preload/fdgaps.h"

unsigned bs_fd_gaps(unsigned lo, unsigned hi, const int *skip, unsigned n,
		    struct bs_fd_range *out)
{
	unsigned count = 0;
	/* One past the last number covered or skipped so far; wider than
	 * unsigned so that hi = UINT_MAX does not wrap. */
	unsigned long long from = lo;
	if (lo > hi)
		return 0;
	for (unsigned i = 0; i < n; i++) {
		if (skip[i] < 0 || (unsigned long long)skip[i] < from ||
		    (unsigned)skip[i] > hi)
			continue;
		unsigned s = (unsigned)skip[i];
		if (from < s)
			out[count++] = (struct bs_fd_range){ (unsigned)from, s - 1 };
		from = (unsigned long long)s + 1;
	}
	if (from <= hi)
		out[count++] = (struct bs_fd_range){ (unsigned)from, hi };
	return count;
}
