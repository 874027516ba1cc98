/* backstop: dispatch to the subcommands, top-level help and version. */
#include <stdio.h>
#include <string.h>

#include "backstop/backstop.h"
#include "cli/cli.h"

static const char usage[] =
	"Usage: backstop COMMAND [OPTIONS] [ARGS]\n"
	"\n"
	"Retries with backoff and jitter, deadlines and connection caps for\n"
	"unmodified programs, through LD_PRELOAD.\n"
	"\n"
	"Commands:\n"
	"  run [-p POLICY] [-l LOG] [-s KEY=VALUE]... -- CMD [ARGS...]\n"
	"                      run CMD under the preload library\n"
	"  check [POLICY]      validate a policy; print the effective values\n"
	"  explain [-p POLICY] DEST\n"
	"                      the rule matching DEST and its delay schedule\n"
	"  log [OPTIONS] [FILE...|-]\n"
	"                      summarise backstop JSON logs\n"
	"  state [-p POLICY] [--reset] [--prometheus]\n"
	"                      the machine-wide budgets and circuit breakers\n"
	"  help [COMMAND]      this text, or a command's help\n"
	"\n"
	"Options:\n"
	"  -h, --help          this text\n"
	"  -V, --version       print the version\n"
	"\n"
	"Exit status: 0 success; 1 runtime failure or invalid policy; 2 usage\n"
	"error. `run` exits with the status of CMD, 127 when CMD is not found\n"
	"and 126 when it cannot be executed.\n"
	"\n"
	"See backstop(1), backstop.conf(5) and backstop-log(5).\n";

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
};

static const struct command commands[] = {
	{ "run", cli_run },
	{ "check", cli_check },
	{ "explain", cli_explain },
	{ "log", cli_log },
	{ "state", cli_state },
};

static const struct command *find_command(const char *name)
{
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fputs(usage, stderr);
		return CLI_USAGE;
	}
	const char *name = argv[1];
	if (strcmp(name, "-h") == 0 || strcmp(name, "--help") == 0) {
		fputs(usage, stdout);
		return CLI_OK;
	}
	if (strcmp(name, "-V") == 0 || strcmp(name, "--version") == 0) {
		printf("backstop %s\n", BACKSTOP_VERSION);
		return CLI_OK;
	}
	if (strcmp(name, "help") == 0) {
		if (argc == 2) {
			fputs(usage, stdout);
			return CLI_OK;
		}
		const struct command *c = find_command(argv[2]);
		if (!c)
			return cli_usage_error(NULL, "unknown command '%s'", argv[2]);
		return c->fn(2, (char *[]){ argv[2], "--help", NULL });
	}
	const struct command *c = find_command(name);
	if (!c)
		return cli_usage_error(NULL, "unknown command '%s'", name);
	return c->fn(argc - 1, argv + 1);
}
