/* The machine-wide state file (see shm.h). */
#include "engine/shm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The preload interposes close: the raw system call here. */
static void raw_close(int fd)
{
	syscall(SYS_close, fd);
}

static int refuse(char *err, size_t cap, const char *path, const char *what)
{
	snprintf(err, cap, "%s: %s", path, what);
	return -1;
}

/* The checks a policy file passes, made stricter: the state steers every
 * process that maps it, so only its owner may read or write it. */
static int check_file(int fd, const char *path, char *err, size_t cap)
{
	struct stat st;
	char why[160];
	if (fstat(fd, &st) != 0)
		return refuse(err, cap, path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return refuse(err, cap, path, "refused: not a regular file");
	if (st.st_uid != geteuid()) {
		snprintf(why, sizeof why, "refused: owned by uid %u, not by this process's uid %u",
			 (unsigned)st.st_uid, (unsigned)geteuid());
		return refuse(err, cap, path, why);
	}
	if (st.st_mode & 077) {
		snprintf(why, sizeof why, "refused: mode %04o lets others in (chmod 600)",
			 (unsigned)(st.st_mode & 07777));
		return refuse(err, cap, path, why);
	}
	return 0;
}

/* A new file is all zeros: stamp it (every creator writes the same). */
static int check_layout(struct bs_shm_layout *l, bool writable, const char *path,
			char *err, size_t cap)
{
	uint32_t version = atomic_load(&l->header.version);
	if (version == 0 && !writable)
		return 0; /* being created: empty, which is what it reads as */
	if (version == 0 &&
	    atomic_compare_exchange_strong(&l->header.version, &version, BS_SHM_VERSION)) {
		l->header.header_size = sizeof l->header;
		l->header.size = sizeof *l;
		memcpy(l->header.magic, BS_SHM_MAGIC, sizeof BS_SHM_MAGIC);
		version = BS_SHM_VERSION;
	}
	char why[160];
	if (memcmp(l->header.magic, BS_SHM_MAGIC, sizeof BS_SHM_MAGIC) != 0 &&
	    l->header.magic[0] != '\0')
		return refuse(err, cap, path, "not a backstop state file");
	if (version != BS_SHM_VERSION) {
		snprintf(why, sizeof why, "state file version %u, but this backstop reads version %u (remove the file, or run the matching backstop)",
			 version, BS_SHM_VERSION);
		return refuse(err, cap, path, why);
	}
	return 0;
}

int bs_shm_open(struct bs_shm *shm, const char *path, bool create, bool writable,
		char *err, size_t cap)
{
	shm->map = NULL;
	int flags = (writable ? O_RDWR : O_RDONLY) | O_NOFOLLOW | O_CLOEXEC |
		    (create ? O_CREAT : 0);
	int fd = open(path, flags, 0600);
	if (fd < 0)
		return refuse(err, cap, path, errno == ELOOP ? "refused: a symbolic link"
							      : strerror(errno));
	struct stat st;
	int rc = check_file(fd, path, err, cap);
	if (rc == 0 && fstat(fd, &st) != 0)
		rc = refuse(err, cap, path, strerror(errno));
	const size_t size = sizeof(struct bs_shm_layout);
	if (rc == 0 && st.st_size == 0 && writable && ftruncate(fd, (off_t)size) != 0)
		rc = refuse(err, cap, path, strerror(errno));
	else if (rc == 0 && st.st_size != 0 && (size_t)st.st_size < sizeof(struct bs_shm_header))
		rc = refuse(err, cap, path, "not a backstop state file (too short)");
	void *map = MAP_FAILED;
	if (rc == 0) {
		/* Map at least the header of whatever is there, so that a file
		 * of another version is named rather than misread. */
		size_t len = st.st_size != 0 && (size_t)st.st_size < size ? (size_t)st.st_size : size;
		map = mmap(NULL, len, writable ? PROT_READ | PROT_WRITE : PROT_READ,
			   MAP_SHARED, fd, 0);
		if (map == MAP_FAILED)
			rc = refuse(err, cap, path, strerror(errno));
		else if ((rc = check_layout(map, writable, path, err, cap)) == 0 && len < size)
			rc = refuse(err, cap, path, "truncated state file");
		if (rc != 0 && map != MAP_FAILED)
			munmap(map, len);
	}
	raw_close(fd);
	if (rc == 0)
		shm->map = map;
	return rc;
}

void bs_shm_close(struct bs_shm *shm)
{
	if (shm->map != NULL)
		munmap(shm->map, sizeof *shm->map);
	shm->map = NULL;
}

void bs_shm_reset(struct bs_shm *shm)
{
	struct bs_guard_table *t = &shm->map->guards;
	for (size_t i = 0; i < BS_GUARD_BUDGETS; i++) {
		struct bs_budget *b = &t->budgets[i].budget;
		for (size_t j = 0; j < BS_BUDGET_BUCKETS; j++) {
			atomic_store(&b->calls[j], 0);
			atomic_store(&b->retries[j], 0);
		}
		atomic_store(&b->reported, 0);
	}
	for (size_t i = 0; i < BS_GUARD_BREAKERS; i++)
		atomic_store(&t->breakers[i].breaker.word, 0);
}
