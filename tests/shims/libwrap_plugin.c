/* A plugin the wrap tests dlopen by its bare name (found through the
 * program's RUNPATH): its own -z now, RELRO GOT calls libwrap_flaky. */
int wrapf_busy(void);

int plugin_run(void)
{
	return wrapf_busy();
}
