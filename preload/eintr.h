/* EINTR from a connect attempt bounded by SO_SNDTIMEO: Linux never
 * restarts a socket call that has a timeout, so such an attempt ends with
 * EINTR after any handler, SA_RESTART or not, and after a stop and
 * continue that ran no handler at all, where a plain blocking connect
 * would have been restarted by the kernel. These say which case it was. */
#ifndef BS_EINTR_H
#define BS_EINTR_H

#include <signal.h>
#include <stdbool.h>

/* Whether the handler that just interrupted this thread asked for its
 * call to be restarted: only when every signal this thread can receive
 * and catches (fault signals aside) is SA_RESTART. After EINTR only: it
 * asks sigaction for every signal. */
bool bs_handlers_restart(void);

/* Hold SIGCONT pending for an attempt (*before: the mask to restore).
 * false, changing nothing, when the program blocks SIGCONT itself or has
 * no handler without SA_RESTART (as of the last second: then every EINTR
 * is resumed anyway, and holding would cost two system calls for
 * nothing). */
bool bs_sigcont_hold(sigset_t *before);

/* After EINTR, with SIGCONT held: whether the process was stopped and
 * continued with no handler to run for SIGCONT (the SIGCONT is taken). */
bool bs_sigcont_only_continued(void);

#endif
