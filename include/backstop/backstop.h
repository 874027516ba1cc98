/* backstop public C API: the policy engine a changeable program can link
 * to compute the same backoff and read the same policy as the preload. */
#ifndef BACKSTOP_BACKSTOP_H
#define BACKSTOP_BACKSTOP_H

#define BACKSTOP_VERSION_MAJOR 0
#define BACKSTOP_VERSION_MINOR 1
#define BACKSTOP_VERSION_PATCH 0
#define BACKSTOP_VERSION "0.1.0"

#endif
