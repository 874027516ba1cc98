/* Epoll registrations per descriptor (see epreg.h).
 *
 * One record per descriptor number, in a table mapped on the first
 * epoll_ctl (MAP_NORESERVE: only the pages of numbers ever registered
 * cost memory), each with its own spin lock, held across the real
 * epoll_ctl so that the record and the kernel agree. A set closed by the
 * program leaves stale slots behind; a slot whose set no longer knows the
 * descriptor is dropped the first time backstop touches it (parking), and
 * a new registration in a set of the same number replaces it. */
#include "preload/epreg.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/mman.h>

#include "preload/fdtrack.h"
#include "preload/real.h"
#include "preload/runtime.h"
#include "preload/spin.h"

/* Parked: no readiness bit, so only an error or hang-up can fire, and
 * only once (EPOLLONESHOT): the dissolved socket's hang-up is hidden by
 * the wait that harvests it, and nothing follows until the next attempt. */
#define PARK_EVENTS (EPOLLONESHOT | EPOLLET)

/* One record per descriptor number (epreg.h). */
struct bs_epreg_fd *_Atomic bs_epreg_table;
_Atomic uint32_t bs_epreg_fds;
static _Atomic uint32_t high_water; /* 1 + the highest number ever registered */

static void in_child(void)
{
	struct bs_epreg_fd *t = atomic_load(&bs_epreg_table);
	/* Only numbers with registrations were ever locked. */
	uint32_t hw = atomic_load(&high_water);
	for (uint32_t fd = 0; t != NULL && fd < hw; fd++)
		if (atomic_load_explicit(&t[fd].n, memory_order_relaxed) != 0)
			atomic_store(&t[fd].lock, 0);
}

static bool any_async_rule(void)
{
	struct bs_runtime *rt = bs_runtime();
	if (rt == NULL)
		return false;
	for (size_t i = 0; i < rt->policy->n_rules; i++)
		if (rt->policy->rules[i].nonblocking == BS_NB_ASYNC &&
		    !rt->policy->rules[i].passthrough)
			return true;
	return false;
}

static void init_once(void)
{
	if (!any_async_rule())
		return;
	bs_fdtrack_init();
	uint32_t n = atomic_load(&bs_fdtab)->n;
	void *p = n ? mmap(NULL, (size_t)n * sizeof(struct bs_epreg_fd), PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
		    : MAP_FAILED;
	if (p == MAP_FAILED)
		return;
	atomic_store_explicit(&bs_epreg_fds, n, memory_order_relaxed);
	pthread_atfork(NULL, NULL, in_child);
	atomic_store_explicit(&bs_epreg_table, p, memory_order_release);
}

bool bs_epreg_enabled(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	if (atomic_load_explicit(&bs_epreg_table, memory_order_acquire) != NULL)
		return true;
	if (bs_runtime() == NULL)
		return false;
	pthread_once(&once, init_once);
	return atomic_load_explicit(&bs_epreg_table, memory_order_acquire) != NULL;
}

/* fd's record, or NULL (no table, or beyond it). */
static struct bs_epreg_fd *regs_of(int fd)
{
	struct bs_epreg_fd *t = atomic_load_explicit(&bs_epreg_table, memory_order_acquire);
	/* Atomic, though set once before the table is published: the
	 * compiler may load it before it knows the table is there. */
	return t != NULL && fd >= 0 &&
			       (uint32_t)fd < atomic_load_explicit(&bs_epreg_fds, memory_order_relaxed)
		       ? &t[fd] : NULL;
}

/* Mirror "registered or parked" into the number's flags byte (fdtrack.h),
 * which close reads without the lock. Lock held, after every change. */
static void sync_flag(struct bs_epreg_fd *f)
{
	int fd = (int)(f - atomic_load(&bs_epreg_table));
	bool on = atomic_load_explicit(&f->n, memory_order_relaxed) != 0 || f->parked;
	if (on != ((bs_fdtrack_flags(fd) & BS_FDF_EPREG) != 0))
		bs_fdtrack_flag(fd, BS_FDF_EPREG, on);
}

static int slot_of(const struct bs_epreg_fd *f, int epfd)
{
	unsigned n = atomic_load_explicit(&f->n, memory_order_relaxed);
	for (unsigned i = 0; i < n; i++)
		if (f->r[i].epfd == epfd)
			return (int)i;
	return -1;
}

static void slot_drop(struct bs_epreg_fd *f, int i)
{
	unsigned n = atomic_load_explicit(&f->n, memory_order_relaxed) - 1;
	f->r[i] = f->r[n];
	atomic_store_explicit(&f->n, n, memory_order_relaxed);
}

static void note(struct bs_epreg_fd *f, int epfd, int op, const struct epoll_event *ev)
{
	int i = slot_of(f, epfd);
	if (op == EPOLL_CTL_DEL) {
		if (i >= 0)
			slot_drop(f, i);
		return;
	}
	unsigned n = atomic_load_explicit(&f->n, memory_order_relaxed);
	if (i < 0 && n == BS_EPREG_MAX)
		return;
	if (i < 0) {
		uint32_t fd = (uint32_t)(f - atomic_load(&bs_epreg_table)), hw = atomic_load(&high_water);
		while (hw < fd + 1 && !atomic_compare_exchange_weak(&high_water, &hw, fd + 1))
			;
		i = (int)n;
		atomic_store_explicit(&f->n, n + 1, memory_order_relaxed);
	}
	f->r[i].epfd = epfd;
	f->r[i].events = ev->events;
	f->r[i].data = ev->data;
}

int bs_epreg_ctl(int (*real)(int, int, int, struct epoll_event *), int epfd,
		 int op, int fd, struct epoll_event *ev)
{
	struct bs_epreg_fd *f = bs_epreg_enabled() ? regs_of(fd) : NULL;
	if (f == NULL || (op != EPOLL_CTL_DEL && ev == NULL))
		return real(epfd, op, fd, ev);
	bs_spin_lock(&f->lock);
	struct epoll_event parked;
	struct epoll_event *use = ev;
	if (f->parked && op != EPOLL_CTL_DEL) {
		parked = (struct epoll_event){ .events = PARK_EVENTS, .data = ev->data };
		use = &parked;
	}
	int r = real(epfd, op, fd, use);
	if (r == 0) {
		int saved = errno;
		note(f, epfd, op, ev);
		sync_flag(f);
		errno = saved;
	}
	bs_spin_unlock(&f->lock);
	return r;
}

void bs_epreg_forget_slow(struct bs_epreg_fd *f)
{
	if (bs_shared_child()) /* vfork: the registrations are the parent's */
		return;
	bs_spin_lock(&f->lock);
	atomic_store_explicit(&f->n, 0, memory_order_relaxed);
	f->parked = false;
	sync_flag(f);
	bs_spin_unlock(&f->lock);
}

void bs_epreg_forget_range(unsigned lo, unsigned hi)
{
	struct bs_epreg_fd *t = atomic_load_explicit(&bs_epreg_table, memory_order_acquire);
	if (t == NULL || bs_shared_child())
		return;
	uint32_t hw = atomic_load(&high_water);
	for (uint32_t fd = lo; fd < hw && fd <= hi; fd++)
		if (atomic_load_explicit(&t[fd].n, memory_order_relaxed) != 0 || t[fd].parked)
			bs_epreg_forget_slow(&t[fd]);
}

/* Always under the lock, even when no registration shows yet: another
 * thread's epoll_ctl holds it from the real call, which may already have
 * woken the caller's wait, until the registration is noted. */
bool bs_epreg_find(int fd, int epfd, uint64_t *data)
{
	struct bs_epreg_fd *f = regs_of(fd);
	if (f == NULL)
		return false;
	bs_spin_lock(&f->lock);
	int i = slot_of(f, epfd);
	if (i >= 0)
		*data = f->r[i].data.u64;
	bs_spin_unlock(&f->lock);
	return i >= 0;
}

unsigned bs_epreg_sets(int fd, int *epfds, unsigned cap)
{
	struct bs_epreg_fd *f = regs_of(fd);
	if (f == NULL)
		return 0;
	bs_spin_lock(&f->lock);
	unsigned n = atomic_load_explicit(&f->n, memory_order_relaxed);
	for (unsigned i = 0; i < n && i < cap; i++)
		epfds[i] = f->r[i].epfd;
	bs_spin_unlock(&f->lock);
	return n < cap ? n : cap;
}

void bs_epreg_park(int fd, bool park)
{
	/* Parking maps the table if no epoll_ctl did yet: the program may
	 * register the descriptor later, parked from the start then. */
	struct bs_epreg_fd *f = !park || bs_epreg_enabled() ? regs_of(fd) : NULL;
	if (f == NULL)
		return;
	bs_spin_lock(&f->lock);
	if (f->parked != park) {
		f->parked = park;
		int saved = errno;
		int (*ctl)(int, int, int, struct epoll_event *) = BS_REAL(epoll_ctl);
		for (int i = (int)atomic_load_explicit(&f->n, memory_order_relaxed) - 1; i >= 0; i--) {
			struct epoll_event ev = {
				.events = park ? PARK_EVENTS : f->r[i].events,
				.data = f->r[i].data,
			};
			if (ctl(f->r[i].epfd, EPOLL_CTL_MOD, fd, &ev) != 0 &&
			    (errno == ENOENT || errno == EBADF || errno == EINVAL))
				slot_drop(f, i); /* a set closed behind our back */
		}
		sync_flag(f);
		errno = saved;
	}
	bs_spin_unlock(&f->lock);
}

void bs_epreg_rearm(int fd, int epfd)
{
	struct bs_epreg_fd *f = regs_of(fd);
	if (f == NULL)
		return;
	bs_spin_lock(&f->lock);
	int i = slot_of(f, epfd);
	if (i >= 0 && !f->parked && (f->r[i].events & EPOLLONESHOT)) {
		int saved = errno;
		struct epoll_event ev = { .events = f->r[i].events, .data = f->r[i].data };
		BS_REAL(epoll_ctl)(epfd, EPOLL_CTL_MOD, fd, &ev);
		errno = saved;
	}
	bs_spin_unlock(&f->lock);
}
