/* backstop log [OPTIONS] [FILE...|-]: summarise backstop JSON logs. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/logplot.h"
#include "cli/logread.h"
#include "cli/logreport.h"
#include "cli/logstats.h"
#include "cli/logtime.h"

static const char help[] =
	"Usage: backstop log [OPTIONS] [FILE...|-]\n"
	"\n"
	"Summarise backstop JSON log lines (standard input when no FILE, or\n"
	"'-'). Lines that are not backstop JSON (torn, foreign) are counted and\n"
	"skipped. The default output has one block per destination: calls seen,\n"
	"retries, successes after retry, give-ups by reason, cap waits, timeouts\n"
	"and rejects, sheds, and the retry delay p50/p99/max. Events without a\n"
	"destination are filed under their client (accept.*) or their family,\n"
	"such as (sleep).\n"
	"\n"
	"Options:\n"
	"  -b, --by KEY        group by dest (default), event, prog or rule\n"
	"  -S, --since TIME    only events at or after TIME\n"
	"  -U, --until TIME    only events at or before TIME\n"
	"                      TIME: RFC 3339 (2024-05-01T12:00:00Z) or a span\n"
	"                      back from now: 30s, 10m, 2h, 1d\n"
	"  -f, --follow        after reading, keep reading appended lines like\n"
	"                      tail -f and print each new event as one line;\n"
	"                      Ctrl-C (SIGINT) or SIGTERM prints the summary\n"
	"  -j, --json          the summary as one JSON document (with --follow,\n"
	"                      new events are echoed as their JSON lines)\n"
	"  -p, --plot FILE     also write an SVG timeline to FILE: one lane per\n"
	"                      destination, a marker per retry, success after\n"
	"                      retry, give-up, shed, cap timeout and cap reject\n"
	"  -h, --help          this text\n"
	"\n"
	"Exit status: 0 ok; 1 a file cannot be read or written; 2 usage error.\n";

struct log_run {
	struct log_summary sum;
	struct logplot *plot;
	double since, until;
	bool json;
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int on_line(void *ctx, const char *line, bool live)
{
	struct log_run *run = ctx;
	struct log_event ev;
	run->sum.lines++;
	if (log_event_parse(line, &ev) != 0) {
		run->sum.skipped++;
		return 0;
	}
	int rc = 0;
	if (ev.ts < run->since || ev.ts > run->until) {
		run->sum.filtered++;
	} else {
		rc = logstats_add(&run->sum, &ev) || (run->plot && logplot_add(run->plot, &ev)) ? -1 : 0;
		if (live && run->json) {
			printf("%s\n", line);
			fflush(stdout);
		} else if (live) {
			logreport_event_line(&ev, stdout);
		}
	}
	json_decref(ev.obj);
	if (rc != 0)
		fprintf(stderr, "backstop log: out of memory\n");
	return rc;
}

static int parse_by(const char *text, enum log_by *by)
{
	for (size_t i = 0; i <= LOG_BY_RULE; i++)
		if (strcmp(text, log_by_names[i]) == 0) {
			*by = (enum log_by)i;
			return 0;
		}
	return -1;
}

int cli_log(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "by", required_argument, NULL, 'b' },
		{ "since", required_argument, NULL, 'S' },
		{ "until", required_argument, NULL, 'U' },
		{ "follow", no_argument, NULL, 'f' },
		{ "json", no_argument, NULL, 'j' },
		{ "plot", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct log_run run = { .since = -1e300, .until = 1e300 };
	const char *plot_path = NULL;
	bool follow = false;
	double now = (double)time(NULL);
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":b:S:U:fjp:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'b':
			if (parse_by(optarg, &run.sum.by) != 0)
				return cli_usage_error("log", "--by '%s': expected dest, event, "
							      "prog or rule", optarg);
			break;
		case 'S':
		case 'U':
			if (logtime_parse_arg(optarg, now, c == 'S' ? &run.since : &run.until) != 0)
				return cli_usage_error("log", "--%s '%s': expected an RFC 3339 "
							      "time (2024-05-01T12:00:00Z) or a span "
							      "like 10m", c == 'S' ? "since" : "until",
						       optarg);
			break;
		case 'f':
			follow = true;
			break;
		case 'j':
			run.json = true;
			break;
		case 'p':
			plot_path = optarg;
			break;
		case 'h':
			fputs(help, stdout);
			return CLI_OK;
		default:
			return cli_option_error("log", argv, c);
		}
	}
	if (plot_path && !(run.plot = logplot_new())) {
		fprintf(stderr, "backstop log: out of memory\n");
		return CLI_FAIL;
	}
	if (follow) {
		/* No SA_RESTART: a blocked read returns so the summary prints. */
		struct sigaction sa = { .sa_handler = on_signal };
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
	}
	char *stdin_only[] = { "-" };
	char **files = optind < argc ? argv + optind : stdin_only;
	int n = optind < argc ? argc - optind : 1;
	int rc = logread_run(files, n, follow, &stop, on_line, &run) == 0 ? CLI_OK : CLI_FAIL;
	if (rc == CLI_OK) {
		logstats_finish(&run.sum);
		if (run.json)
			rc = logreport_json(&run.sum, stdout) == 0 ? rc : CLI_FAIL;
		else
			logreport_text(&run.sum, stdout);
		if (run.plot && logplot_write(run.plot, plot_path) != 0)
			rc = CLI_FAIL;
	}
	logplot_free(run.plot);
	logstats_free(&run.sum);
	return rc;
}
