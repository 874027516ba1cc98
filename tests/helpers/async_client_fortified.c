/* async_client built with _FORTIFY_SOURCE=2, as distributions build
 * programs: its poll, ppoll and read calls become __poll_chk, __ppoll_chk
 * and __read_chk, which reach libc's own functions directly. */
#undef _FORTIFY_SOURCE
#define _FORTIFY_SOURCE 2
#include "async_client.c"
