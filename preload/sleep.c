/* The sleep family. Filled in below; bs_sleep_note_connect keeps this
 * thread's connect outcomes for retry-sleep detection. */
#include <time.h>

#include "policy/sleepadj.h"
#include "preload/runtime.h"

static __thread struct bs_sleep_state tls_sleep
	__attribute__((tls_model("initial-exec")));

void bs_sleep_note_connect(int err)
{
	bs_sleep_state_note(&tls_sleep, err, bs_now());
}
