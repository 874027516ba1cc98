/* backstop run: set the policy environment, put the library in LD_PRELOAD,
 * check the policy as the library will see it, and exec the command. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/runenv.h"
#include "cli/target.h"

extern char **environ;

static const char help[] =
	"Usage: backstop run [-p POLICY] [-l LOG] [-s KEY=VALUE]... -- CMD [ARGS...]\n"
	"\n"
	"Run CMD with the backstop library preloaded. The policy is checked\n"
	"first, exactly as the library will see it (file, environment and the\n"
	"settings below); a bad policy stops here, before CMD runs.\n"
	"\n"
	"Options:\n"
	"  -p, --policy POLICY    policy file (sets BACKSTOP_POLICY, made absolute)\n"
	"  -l, --log LOG          where the JSON log goes: stderr, fd:N, syslog,\n"
	"                         off or a file path (sets BACKSTOP_LOG)\n"
	"  -s, --set KEY=VALUE    one policy setting, SECTION.KEY=VALUE:\n"
	"                         -s connect.deadline=3s sets\n"
	"                         BACKSTOP_CONNECT_DEADLINE=3s, and\n"
	"                         -s dest.db.max_conns=4 sets\n"
	"                         BACKSTOP_DEST_DB_MAX_CONNS=4 (repeatable)\n"
	"  -h, --help             this text\n"
	"\n"
	"The library is libbackstop-preload.so next to this program, else\n"
	"../lib/backstop/libbackstop-preload.so relative to it.\n"
	"It goes first in LD_PRELOAD; existing entries are kept. A warning is\n"
	"printed when CMD is statically linked or setuid/setgid, since\n"
	"LD_PRELOAD cannot reach it then.\n"
	"\n"
	"Exit status: that of CMD; 1 invalid policy or library not found;\n"
	"2 usage error; 126 CMD cannot be executed; 127 CMD not found.\n";

/* parse_options' result when it printed the help: exit 0 at once. */
#define HELP_SHOWN (-1)

/* A path made absolute against the current directory (the command may
 * change directory; the library reads the variable later). */
static int absolute(char *buf, size_t cap, const char *path)
{
	char cwd[PATH_MAX];
	if (path[0] == '/' || !getcwd(cwd, sizeof cwd))
		return snprintf(buf, cap, "%s", path) < (int)cap ? 0 : -1;
	return snprintf(buf, cap, "%s/%s", cwd, path) < (int)cap ? 0 : -1;
}

/* A log sink that is not a file: stderr, syslog, off, fd:N. Anything else
 * is a file, and the library wants it absolute. */
static bool log_keyword(const char *log)
{
	return strcmp(log, "stderr") == 0 || strcmp(log, "syslog") == 0 ||
	       strcmp(log, "off") == 0 || strncmp(log, "fd:", 3) == 0;
}

static int oom(void)
{
	fprintf(stderr, "backstop: out of memory\n");
	return CLI_FAIL;
}

/* Apply one -s KEY=VALUE; a usage error when it is malformed. */
static int apply_setting(struct runenv *env, const char *arg)
{
	const char *eq = strchr(arg, '=');
	char name[256];
	if (!eq)
		return cli_usage_error("run", "-s '%s': expected SECTION.KEY=VALUE", arg);
	if (runenv_setting_name(name, sizeof name, arg, (size_t)(eq - arg)) != 0)
		return cli_usage_error("run", "-s '%s': '%.*s' is not SECTION.KEY "
				       "(like connect.deadline or dest.db.max_conns)",
				       arg, (int)(eq - arg), arg);
	return runenv_set(env, name, eq + 1) == 0 ? CLI_OK : oom();
}

static int parse_options(int argc, char **argv, struct runenv *env)
{
	static const struct option longopts[] = {
		{ "policy", required_argument, NULL, 'p' },
		{ "log", required_argument, NULL, 'l' },
		{ "set", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char path[PATH_MAX];
	int c, rc = CLI_OK;
	optind = 1;
	while (rc == CLI_OK && (c = getopt_long(argc, argv, "+:p:l:s:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (absolute(path, sizeof path, optarg) != 0)
				return cli_usage_error("run", "-p: path too long");
			rc = runenv_set(env, "BACKSTOP_POLICY", path) == 0 ? CLI_OK : oom();
			break;
		case 'l':
			if (!log_keyword(optarg) && absolute(path, sizeof path, optarg) != 0)
				return cli_usage_error("run", "-l: path too long");
			rc = runenv_set(env, "BACKSTOP_LOG", log_keyword(optarg) ? optarg : path) == 0
				     ? CLI_OK : oom();
			break;
		case 's':
			rc = apply_setting(env, optarg);
			break;
		case 'h':
			fputs(help, stdout);
			return HELP_SHOWN;
		default:
			return cli_option_error("run", argv, c);
		}
	}
	return rc;
}

/* Everything after the copy of the environment; returns only when the
 * command did not run. */
static int run_with(struct runenv *env, int argc, char **argv)
{
	int rc = parse_options(argc, argv, env);
	if (rc != CLI_OK)
		return rc == HELP_SHOWN ? CLI_OK : rc;
	if (optind >= argc)
		return cli_usage_error("run", "missing command (backstop run [OPTIONS] -- CMD [ARGS...])");
	char **cmd = argv + optind;

	struct bs_policy *policy = cli_load_policy(NULL, env->vars);
	if (!policy)
		return CLI_FAIL;
	bs_policy_free(policy);

	char lib[3 * PATH_MAX];
	if (target_find_library(lib, sizeof lib) != 0) {
		fprintf(stderr, "backstop: cannot find libbackstop-preload.so (looked at %s)\n", lib);
		return CLI_FAIL;
	}
	if (runenv_preload(env, lib) != 0)
		return oom();

	char path[PATH_MAX];
	int err = target_resolve(cmd[0], path, sizeof path);
	if (err == ENOENT) {
		fprintf(stderr, "backstop: %s: command not found\n", cmd[0]);
		return 127;
	}
	if (err == 0) {
		target_warn_unreachable(cmd[0], path);
		execve(path, cmd, env->vars);
		err = errno;
	}
	fprintf(stderr, "backstop: %s: %s\n", cmd[0], strerror(err));
	return err == ENOENT ? 127 : 126;
}

int cli_run(int argc, char **argv)
{
	struct runenv env;
	int rc = runenv_init(&env, environ) == 0 ? run_with(&env, argc, argv) : oom();
	runenv_free(&env);
	return rc;
}
