/* The ranges of descriptor numbers between backstop's private descriptors:
 * close_range and closefrom close each of them with one real call, so the
 * private ones (the log) stay open. Pure arithmetic: no system call. */
#ifndef BS_FDGAPS_H
#define BS_FDGAPS_H

struct bs_fd_range {
	unsigned lo, hi; /* inclusive */
};

/* The ranges of [lo, hi] that leave out the numbers skip[0..n-1] (in
 * ascending order; those outside [lo, hi] are ignored), written to out
 * (room for n + 1); returns how many. hi may be UINT_MAX. */
unsigned bs_fd_gaps(unsigned lo, unsigned hi, const int *skip, unsigned n,
		    struct bs_fd_range *out);

#endif
