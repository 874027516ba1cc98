/* Declared wrappers ([wrap "SYMBOL"], docs/wrap.md): a libffi closure per
 * symbol that runs the retry engine around the real function, and the
 * bookkeeping that points the program's calls at it. */
#ifndef BS_PRELOAD_WRAP_H
#define BS_PRELOAD_WRAP_H

#include <stdbool.h>

#include "preload/runtime.h"

/* Build the closures of rt->policy's wrappers and redirect the loaded
 * objects' calls; logs wrap.missing for symbols no object defines. Called
 * once by the runtime's initialisation, only when a wrapper is declared. */
void bs_wrap_install(struct bs_runtime *rt);

/* From now on dlopen and dlsym go through backstop (wrapdl.c). */
void bs_wrapdl_activate(void);

/* After a dlopen: find definitions that were missing and redirect the new
 * objects' calls. */
void bs_wrap_refresh(void);

/* Whether name is a declared symbol. */
bool bs_wrap_declared(const char *name);

/* What dlsym returns for name found at sym: the wrapper when sym is the
 * wrapped definition, else sym. */
void *bs_wrap_for(const char *name, void *sym);

#endif
