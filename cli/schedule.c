/* The retry schedule of one rule or wrapper, sampled from the real bs_backoff_next so
 * that the table shows what the library will do, jitter included. */
#include <stdio.h>
#include <stdlib.h>

#include "cli/schedule.h"
#include "engine/backoff.h"
#include "engine/rng.h"

/* Beyond this many attempts the table stops (the rest look alike). */
#define MAX_ROWS 30
/* attempts = 0: a run counted this far is reported as "at least". */
#define MAX_COUNTED 10000

static int by_value(const void *a, const void *b)
{
	bs_ns x = *(const bs_ns *)a, y = *(const bs_ns *)b;
	return x < y ? -1 : x > y;
}

static double ms(bs_ns d)
{
	return (double)d / (double)BS_MS;
}

/* delays[(r - 1) * samples + s]: the delay before retry r in run s. */
static void sample(const struct schedule_spec *spec, size_t retries, size_t samples,
		   uint64_t seed, bs_ns *delays)
{
	struct bs_rng rng;
	bs_rng_seed(&rng, seed);
	for (size_t s = 0; s < samples; s++) {
		bs_ns prev = 0;
		for (size_t r = 1; r <= retries; r++)
			delays[(r - 1) * samples + s] =
				bs_backoff_next(spec->backoff, (uint32_t)r, &prev, &rng);
	}
}

/* attempts = 0: how many attempts the deadline allows when every attempt
 * fails at once (a refused port), min / median / max over the samples. The
 * retry engine's rule: a pause is only started if it ends before the
 * deadline. */
static int print_attempt_count(const struct schedule_spec *spec, size_t samples,
			       uint64_t seed, FILE *out)
{
	bs_ns *counts = malloc(samples * sizeof *counts);
	if (!counts)
		return -1;
	struct bs_rng rng;
	bs_rng_seed(&rng, seed);
	for (size_t s = 0; s < samples; s++) {
		bs_ns prev = 0, elapsed = 0;
		uint32_t n = 1;
		while (n < MAX_COUNTED) {
			bs_ns delay = bs_backoff_next(spec->backoff, n, &prev, &rng);
			if (delay >= spec->deadline - elapsed)
				break;
			elapsed += delay;
			n++;
		}
		counts[s] = n;
	}
	qsort(counts, samples, sizeof *counts, by_value);
	fprintf(out, "  ... attempts = 0: no count limit; later attempts follow alike until the\n"
		     "  deadline ends the call. When every attempt fails at once (a refused port),\n"
		     "  the call makes %llu / %llu / %s%llu attempts (min / median / max).\n",
		(unsigned long long)counts[0], (unsigned long long)counts[samples / 2],
		counts[samples - 1] >= MAX_COUNTED ? "at least " : "",
		(unsigned long long)counts[samples - 1]);
	free(counts);
	return 0;
}

int schedule_print(const struct schedule_spec *spec, size_t samples, uint64_t seed,
		   FILE *out)
{
	const bs_ns deadline = spec->deadline, attempt_max = spec->attempt_max;
	size_t rows = spec->attempts != 0 && spec->attempts < MAX_ROWS ? spec->attempts : MAX_ROWS;
	size_t retries = rows - 1;
	bs_ns *delays = malloc((retries ? retries : 1) * samples * sizeof *delays);
	bs_ns *elapsed = calloc(samples, sizeof *elapsed); /* per run, failures instant */
	if (!delays || !elapsed) {
		free(delays);
		free(elapsed);
		return -1;
	}
	sample(spec, retries, samples, seed, delays);

	fprintf(out, "schedule     %zu samples, seed %llu; ", samples, (unsigned long long)seed);
	if (attempt_max != 0)
		fprintf(out, "an attempt takes at most %.0f ms", ms(attempt_max));
	else
		fprintf(out, "calls taken to return at once");
	fprintf(out, ", the deadline is %.0f ms\n\n", ms(deadline));
	fprintf(out, "attempt   delay before it (ms)            worst case (ms)\n");
	fprintf(out, "             min     median        max    starts by    ends by   vs deadline\n");

	bs_ns worst_start = 0;
	size_t k, shown = rows;
	for (k = 1; k <= rows; k++) {
		bs_ns earliest = 0;
		if (k == 1) {
			fprintf(out, "%7zu %10s %10s %10s", k, "-", "-", "-");
		} else {
			bs_ns *col = delays + (k - 2) * samples;
			earliest = UINT64_MAX;
			for (size_t s = 0; s < samples; s++) {
				elapsed[s] += col[s];
				if (elapsed[s] < earliest)
					earliest = elapsed[s];
			}
			qsort(col, samples, sizeof *col, by_value);
			worst_start += attempt_max + col[samples - 1];
			fprintf(out, "%7zu %10.1f %10.1f %10.1f", k, ms(col[0]),
				ms(col[samples / 2]), ms(col[samples - 1]));
		}
		bs_ns worst_end = worst_start + attempt_max;
		const char *verdict = earliest >= deadline ? "cut by deadline"
				      : worst_start >= deadline ? "may be cut"
				      : worst_end > deadline  ? "fits (ends at deadline)"
								    : "fits";
		/* An attempt that may start past the deadline has no end to show. */
		char end[32] = "-";
		if (worst_start < deadline)
			snprintf(end, sizeof end, "%.0f",
				 ms(worst_end < deadline ? worst_end : deadline));
		fprintf(out, " %12.0f %10s   %s\n", ms(worst_start), end, verdict);
		/* Without a count limit, the rows after the first that may be
		 * cut look alike; the attempt count below sums them up. */
		if (earliest >= deadline || (spec->attempts == 0 && worst_start >= deadline)) {
			shown = k;
			break;
		}
	}
	int rc = 0;
	if (spec->attempts == 0)
		rc = print_attempt_count(spec, samples, seed, out);
	else if (shown < spec->attempts)
		fprintf(out, "  ... attempts %zu to %u not shown%s\n", shown + 1, spec->attempts,
			shown < rows ? ": the deadline ends the call before them" : "");
	fprintf(out, "\nstarts by: latest start if every earlier attempt used its whole "
		     "time and the longest delay;\ncut by deadline: even failures that "
		     "return at once cannot reach this attempt in time.\n");
	free(delays);
	free(elapsed);
	return rc;
}
