/* Declared wrappers (see wrap.h and docs/wrap.md).
 *
 * Each [wrap "SYMBOL"] gets a libffi closure with the declared signature.
 * A call to it runs bs_wrap_retry: every attempt calls the real function
 * with ffi_call, with the errno the program had when it called, and tests
 * the return (and errno) against retry_if; the pauses are the connect
 * retry's (bs_pause_io: the program's SA_RESTART choice decides whether a
 * signal ends them). The program sees the last real call's return value
 * and errno.
 *
 * A call made while this thread is already inside a wrapper (the real
 * function calling another wrapped one, or a signal handler calling in)
 * goes straight to the real function. So does every call made before the
 * runtime is ready. */
#include "preload/wrap.h"

#include <errno.h>
#include <ffi.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "engine/wrap_retry.h"
#include "preload/wrapgot.h"

struct wrapper {
	const struct bs_wrap *decl;
	ffi_cif cif;
	ffi_type *arg_types[BS_WRAP_ARGS_MAX];
	ffi_closure *closure;
	struct bs_got_target got; /* symbol, library, real, code */
	bool reported;            /* wrap.missing written */
};

static struct wrapper *wrappers;
static size_t n_wrappers;
static struct bs_log *wrap_log;
static pthread_mutex_t refresh_lock = PTHREAD_MUTEX_INITIALIZER;

/* How deep this thread is inside wrappers. initial-exec: no allocation on
 * first use, and usable from a signal handler. */
static __thread unsigned depth __attribute__((tls_model("initial-exec")));

static ffi_type *ffi_type_of(enum bs_ctype t)
{
	switch (t) {
	case BS_CT_VOID: return &ffi_type_void;
	case BS_CT_INT: return &ffi_type_sint;
	case BS_CT_UNSIGNED: return &ffi_type_uint;
	case BS_CT_LONG: case BS_CT_SSIZE: return &ffi_type_slong;
	case BS_CT_ULONG: case BS_CT_SIZE: return &ffi_type_ulong;
	case BS_CT_INT64: return &ffi_type_sint64;
	case BS_CT_UINT64: return &ffi_type_uint64;
	case BS_CT_DOUBLE: return &ffi_type_double;
	default: return &ffi_type_pointer;
	}
}

/* The return ffi_call left in buf (integers narrower than a register are
 * widened to ffi_arg / ffi_sarg). */
static union bs_wrap_ret decode(enum bs_ctype t, const void *buf)
{
	union bs_wrap_ret r = { .u = 0 };
	switch (t) {
	case BS_CT_INT: r.i = (int32_t)*(const ffi_sarg *)buf; break;
	case BS_CT_UNSIGNED: r.u = (uint32_t)*(const ffi_arg *)buf; break;
	case BS_CT_LONG: case BS_CT_SSIZE: r.i = *(const long *)buf; break;
	case BS_CT_ULONG: case BS_CT_SIZE: r.u = *(const unsigned long *)buf; break;
	case BS_CT_INT64: r.i = *(const int64_t *)buf; break;
	case BS_CT_UINT64: r.u = *(const uint64_t *)buf; break;
	case BS_CT_DOUBLE: r.d = *(const double *)buf; break;
	default: r.p = *(void *const *)buf; break;
	}
	return r;
}

/* ---- one program call ------------------------------------------------- */

struct call_io {
	struct wrapper *w;
	void *real;
	void *ret;
	void **args;
	int entry_errno;
	struct bs_wrap_call call;
};

static int attempt_io(void *ctx, bs_ns bound)
{
	struct call_io *c = ctx;
	(void)bound; /* a library call cannot be cut short */
	errno = c->entry_errno;
	ffi_call(&c->w->cif, FFI_FN(c->real), c->ret, c->args);
	c->call.err = errno;
	c->call.ret = decode(c->w->decl->returns, c->ret);
	return bs_wrap_should_retry(c->w->decl, c->call.ret, c->call.err) ? BS_WRAP_TRANSIENT : 0;
}

static bs_ns now_io(void *ctx)
{
	(void)ctx;
	return bs_now();
}

static void wrapped_call(ffi_cif *cif, void *ret, void **args, void *userdata)
{
	struct wrapper *w = userdata;
	void *real = __atomic_load_n(&w->got.real, __ATOMIC_ACQUIRE);
	struct bs_runtime *rt = depth == 0 ? bs_runtime() : NULL;
	if (rt == NULL) {
		ffi_call(cif, FFI_FN(real), ret, args);
		return;
	}
	depth++;
	struct call_io c = {
		.w = w, .real = real, .ret = ret, .args = args, .entry_errno = errno,
		.call = { .wrap = w->decl, .rng = bs_thread_rng(), .log = &rt->log,
			  .start = bs_now() },
	};
	const struct bs_retry_io io = {
		.ctx = &c, .attempt = attempt_io, .pause = bs_pause_io, .now = now_io,
	};
	bs_wrap_retry(&c.call, &io);
	depth--;
	errno = c.call.err;
}

/* ---- installation ----------------------------------------------------- */

static void report_missing(struct wrapper *w, const char *reason)
{
	struct bs_logline line;
	w->reported = true;
	bs_line_begin(&line, wrap_log, "wrap.missing");
	bs_line_str(&line, "symbol", w->decl->symbol);
	if (w->decl->library[0] != '\0')
		bs_line_str(&line, "library", w->decl->library);
	bs_line_str(&line, "reason", reason);
	bs_line_emit(&line, wrap_log);
}

static bool build(struct wrapper *w, const struct bs_wrap *decl)
{
	w->decl = decl;
	for (uint8_t i = 0; i < decl->n_args; i++)
		w->arg_types[i] = ffi_type_of(decl->args[i]);
	void *code = NULL;
	if (ffi_prep_cif(&w->cif, FFI_DEFAULT_ABI, decl->n_args, ffi_type_of(decl->returns),
			 w->arg_types) != FFI_OK ||
	    (w->closure = ffi_closure_alloc(sizeof(ffi_closure), &code)) == NULL ||
	    ffi_prep_closure_loc(w->closure, &w->cif, wrapped_call, w, code) != FFI_OK)
		return false;
	w->got = (struct bs_got_target){ .symbol = decl->symbol, .library = decl->library,
					 .code = code };
	return true;
}

/* Under refresh_lock. */
static void redirect(void)
{
	if (n_wrappers == 0)
		return; /* libffi built none: nothing to point calls at */
	struct bs_got_target targets[n_wrappers];
	for (size_t i = 0; i < n_wrappers; i++)
		targets[i] = wrappers[i].got;
	bs_got_resolve(targets, n_wrappers);
	for (size_t i = 0; i < n_wrappers; i++) {
		__atomic_store_n(&wrappers[i].got.real, targets[i].real, __ATOMIC_RELEASE);
		wrappers[i].got.ifunc = targets[i].ifunc;
		wrappers[i].got.library_seen = targets[i].library_seen;
	}
	bs_got_redirect(targets, n_wrappers);
}

static void lock_for_fork(void)
{
	pthread_mutex_lock(&refresh_lock);
}

static void unlock_after_fork(void)
{
	pthread_mutex_unlock(&refresh_lock);
}

void bs_wrap_install(struct bs_runtime *rt)
{
	const struct bs_policy *p = rt->policy;
	wrap_log = &rt->log;
	wrappers = calloc(p->n_wraps - 1, sizeof *wrappers);
	if (wrappers == NULL)
		return;
	for (size_t i = 1; i < p->n_wraps; i++) {
		struct wrapper *w = &wrappers[n_wrappers];
		if (build(w, &p->wraps[i]))
			n_wrappers++;
		else
			report_missing(w, "ffi"); /* libffi could not make the closure */
	}
	pthread_atfork(lock_for_fork, unlock_after_fork, unlock_after_fork);
	pthread_mutex_lock(&refresh_lock);
	redirect();
	for (size_t i = 0; i < n_wrappers; i++)
		if (wrappers[i].got.real == NULL)
			report_missing(&wrappers[i], wrappers[i].got.ifunc ? "ifunc"
						     : wrappers[i].decl->library[0] != '\0' &&
							       !wrappers[i].got.library_seen
						     ? "not_loaded" : "not_found");
	pthread_mutex_unlock(&refresh_lock);
	bs_wrapdl_activate();
}

void bs_wrap_refresh(void)
{
	int saved = errno;
	pthread_mutex_lock(&refresh_lock);
	redirect();
	for (size_t i = 0; i < n_wrappers; i++)
		if (wrappers[i].got.ifunc && !wrappers[i].reported)
			report_missing(&wrappers[i], "ifunc");
	pthread_mutex_unlock(&refresh_lock);
	errno = saved;
}

bool bs_wrap_declared(const char *name)
{
	for (size_t i = 0; i < n_wrappers; i++)
		if (strcmp(wrappers[i].decl->symbol, name) == 0)
			return true;
	return false;
}

void *bs_wrap_for(const char *name, void *sym)
{
	for (size_t i = 0; i < n_wrappers; i++)
		if (strcmp(wrappers[i].decl->symbol, name) == 0 &&
		    __atomic_load_n(&wrappers[i].got.real, __ATOMIC_ACQUIRE) == sym)
			return wrappers[i].got.code;
	return sym;
}
