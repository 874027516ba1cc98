/* backstop's private descriptors (the log): the program can neither close
 * them nor dup2 over them (see fdtrack.h). A handful at most, in a small
 * registry; their entries in the descriptor table say BS_FDT_PRIVATE, so
 * the close and dup wrappers' one-branch test sends them to the slow
 * path. */
#include <errno.h>
#include <stdatomic.h>

#include "preload/fdtrack.h"

struct private_fd {
	_Atomic int fd; /* -1: unused */
	int (*move)(void *ctx);
	void *ctx;
};

static struct private_fd privates[BS_FDT_MAX_PRIVATE] = {
	{ .fd = -1 }, { .fd = -1 }, { .fd = -1 }, { .fd = -1 },
};

/* Keep the entry or the sentinel in step with the registry. */
static void private_mark(int fd, bool on)
{
	struct bs_fdtab *t = atomic_load_explicit(&bs_fdtab, memory_order_acquire);
	if ((uint32_t)fd < t->n) {
		bs_fdt_entry_exchange(&t->words[fd], on ? BS_FDT_PRIVATE : 0);
		return;
	}
	bool beyond = false;
	for (int i = 0; i < BS_FDT_MAX_PRIVATE; i++)
		beyond |= (uint32_t)atomic_load(&privates[i].fd) >= t->n &&
			  atomic_load(&privates[i].fd) >= 0;
	bs_fdt_entry_exchange(&t->words[t->n], beyond ? BS_FDT_PRIVATE : 0);
}

void bs_fdtrack_protect(int fd, int (*move)(void *ctx), void *ctx)
{
	if (fd < 0)
		return;
	for (int i = 0; i < BS_FDT_MAX_PRIVATE; i++) {
		int unused = -1;
		struct private_fd *p = &privates[i];
		/* Claim the record (-2) before filling it in. */
		if (atomic_compare_exchange_strong(&p->fd, &unused, -2)) {
			p->move = move;
			p->ctx = ctx;
			atomic_store(&p->fd, fd);
			private_mark(fd, true);
			return;
		}
	}
}

static struct private_fd *private_find(int fd)
{
	for (int i = 0; i < BS_FDT_MAX_PRIVATE; i++)
		if (fd >= 0 && atomic_load(&privates[i].fd) == fd)
			return &privates[i];
	return NULL;
}

bool bs_fdtrack_is_private(int fd)
{
	return private_find(fd) != NULL;
}

void bs_fdtrack_vacate(int fd)
{
	struct private_fd *p = private_find(fd);
	if (p == NULL)
		return;
	int saved = errno;
	int moved = p->move(p->ctx); /* raw system calls: not seen by our wrappers */
	if (moved >= 0) {
		atomic_store(&p->fd, moved);
		private_mark(moved, true);
		private_mark(fd, false);
	}
	errno = saved;
}

unsigned bs_fdtrack_private_in(unsigned lo, unsigned hi, int *out, unsigned cap)
{
	unsigned n = 0;
	for (int i = 0; i < BS_FDT_MAX_PRIVATE; i++) {
		int fd = atomic_load(&privates[i].fd);
		if (fd < 0 || (unsigned)fd < lo || (unsigned)fd > hi)
			continue;
		unsigned j = n < cap ? n++ : cap; /* insertion sort, ascending */
		while (j > 0 && out[j - 1] > fd) {
			if (j < cap)
				out[j] = out[j - 1];
			j--;
		}
		if (j < cap)
			out[j] = fd;
	}
	return n;
}
