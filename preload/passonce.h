/* Which destinations connect.pass has reported already (nonblocking =
 * pass logs the first nonblocking connect to each destination once). */
#ifndef BS_PASSONCE_H
#define BS_PASSONCE_H

#include <stdbool.h>

/* true the first time dest (a formatted destination) is seen. Lock-free
 * and allocation-free: a fixed table of 256 hashes; once it is full,
 * further destinations are never reported (false). */
bool bs_first_pass_to(const char *dest);

#endif
