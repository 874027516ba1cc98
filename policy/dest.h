/* Destinations as users write and read them: "127.0.0.1:5432",
 * "[::1]:6379", "unix:/run/app.sock", "unix:@abstract". */
#ifndef BS_DEST_H
#define BS_DEST_H

#include <stddef.h>
#include <sys/socket.h>

#define BS_DEST_MAX 128 /* enough for "unix:" + sun_path, and "[v6]:port" */

/* Format a socket address; returns the length, or 0 for an unsupported
 * family (buf then holds "?"). Async-signal-safe. */
size_t bs_dest_format(char *buf, size_t cap, const struct sockaddr *sa,
		      socklen_t len);

/* Parse a destination written as above into *ss. Returns 0, or -1 when
 * the text is not a destination. */
int bs_dest_parse(const char *text, struct sockaddr_storage *ss,
		  socklen_t *len);

#endif
