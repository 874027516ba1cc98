/* GOT rewriting for declared wrappers (see wrapgot.h and docs/wrap.md).
 *
 * Every object dl_iterate_phdr reports is read through its dynamic
 * section: symbol and string tables, the hash table for lookups, and the
 * RELA relocations (DT_JMPREL for PLT slots, DT_RELA for GLOB_DAT and
 * absolute function pointers). Nothing here calls dlsym or dlopen: this
 * runs inside dl_iterate_phdr, which holds the loader's write lock, and a
 * dlsym there could deadlock against a dlopen in another thread.
 *
 * A RELRO page is writable only for the moment of the write. Its current
 * protection is read from /proc/self/maps rather than assumed, because an
 * object that another thread's dlopen is still relocating is not
 * protected yet (and its loader will protect it itself). */
#include "preload/wrapgot.h"

#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <stdint.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <unistd.h>

#include "preload/real.h"

#if defined(__x86_64__)
#define R_JUMP_SLOT R_X86_64_JUMP_SLOT
#define R_GLOB_DAT R_X86_64_GLOB_DAT
#define R_ABS64 R_X86_64_64
#elif defined(__aarch64__)
#define R_JUMP_SLOT R_AARCH64_JUMP_SLOT
#define R_GLOB_DAT R_AARCH64_GLOB_DAT
#define R_ABS64 R_AARCH64_ABS64
#else
#error "declared wrappers: GOT relocation types of this architecture are not known"
#endif

struct dynobj {
	const struct dl_phdr_info *info;
	const ElfW(Sym) *symtab;
	const char *strtab;
	const ElfW(Half) *versym;
	const uint32_t *gnu_hash;
	const uint32_t *sysv_hash;
	const ElfW(Rela) *rela[2]; /* DT_JMPREL, DT_RELA */
	size_t rela_size[2];
	const char *soname;
};

/* glibc rebases the address entries of a dynamic section in place, but not
 * every object's (the vDSO's stays as linked): an entry below the load
 * address is still an offset. */
static const void *dyn_ptr(const struct dl_phdr_info *info, ElfW(Addr) v)
{
	return (const void *)(v < info->dlpi_addr ? v + info->dlpi_addr : v);
}

static bool read_dynamic(const struct dl_phdr_info *info, struct dynobj *o)
{
	const ElfW(Dyn) *dyn = NULL;
	memset(o, 0, sizeof *o);
	o->info = info;
	for (int i = 0; i < info->dlpi_phnum; i++)
		if (info->dlpi_phdr[i].p_type == PT_DYNAMIC)
			dyn = (const ElfW(Dyn) *)(info->dlpi_addr + info->dlpi_phdr[i].p_vaddr);
	if (dyn == NULL)
		return false;
	ElfW(Addr) soname = 0;
	bool have_soname = false, rela_plt = true;
	for (; dyn->d_tag != DT_NULL; dyn++) {
		switch (dyn->d_tag) {
		case DT_SYMTAB: o->symtab = dyn_ptr(info, dyn->d_un.d_ptr); break;
		case DT_STRTAB: o->strtab = dyn_ptr(info, dyn->d_un.d_ptr); break;
		case DT_VERSYM: o->versym = dyn_ptr(info, dyn->d_un.d_ptr); break;
		case DT_GNU_HASH: o->gnu_hash = dyn_ptr(info, dyn->d_un.d_ptr); break;
		case DT_HASH: o->sysv_hash = dyn_ptr(info, dyn->d_un.d_ptr); break;
		case DT_JMPREL: o->rela[0] = dyn_ptr(info, dyn->d_un.d_ptr); break;
		case DT_PLTRELSZ: o->rela_size[0] = dyn->d_un.d_val; break;
		case DT_PLTREL: rela_plt = dyn->d_un.d_val == DT_RELA; break;
		case DT_RELA: o->rela[1] = dyn_ptr(info, dyn->d_un.d_ptr); break;
		case DT_RELASZ: o->rela_size[1] = dyn->d_un.d_val; break;
		case DT_SONAME: soname = dyn->d_un.d_val; have_soname = true; break;
		}
	}
	if (!rela_plt)
		o->rela[0] = NULL, o->rela_size[0] = 0;
	if (o->strtab != NULL && have_soname)
		o->soname = o->strtab + soname;
	return o->symtab != NULL && o->strtab != NULL;
}

/* ---- which object: library = ... --------------------------------------- */

static bool object_is(const struct dynobj *o, const char *library)
{
	const char *path = o->info->dlpi_name;
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	return strcmp(path, library) == 0 || strcmp(base, library) == 0 ||
	       (o->soname != NULL && strcmp(o->soname, library) == 0);
}

static bool object_contains(const struct dl_phdr_info *info, uintptr_t addr)
{
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t start = info->dlpi_addr + ph->p_vaddr;
		if (ph->p_type == PT_LOAD && addr >= start && addr - start < ph->p_memsz)
			return true;
	}
	return false;
}

/* ---- symbol lookup ------------------------------------------------------ */

/* A definition other objects can bind to: defined here, a function,
 * global or weak, and the default version. */
static bool exported(const struct dynobj *o, uint32_t i)
{
	const ElfW(Sym) *s = &o->symtab[i];
	int type = ELF64_ST_TYPE(s->st_info), bind = ELF64_ST_BIND(s->st_info);
	return s->st_shndx != SHN_UNDEF && s->st_value != 0 &&
	       (type == STT_FUNC || type == STT_GNU_IFUNC) &&
	       (bind == STB_GLOBAL || bind == STB_WEAK) &&
	       (o->versym == NULL || (o->versym[i] & 0x8000) == 0);
}

static const ElfW(Sym) *gnu_lookup(const struct dynobj *o, const char *name)
{
	const uint32_t *h = o->gnu_hash;
	uint32_t nbuckets = h[0], symoffset = h[1], bloom_size = h[2], shift = h[3];
	const ElfW(Addr) *bloom = (const ElfW(Addr) *)&h[4];
	const uint32_t *buckets = (const uint32_t *)&bloom[bloom_size];
	const uint32_t *chain = &buckets[nbuckets];
	const unsigned bits = sizeof(ElfW(Addr)) * 8;
	uint32_t hash = 5381;
	for (const unsigned char *c = (const unsigned char *)name; *c; c++)
		hash = hash * 33 + *c;
	ElfW(Addr) word = bloom[(hash / bits) % bloom_size];
	ElfW(Addr) mask = ((ElfW(Addr))1 << (hash % bits)) |
			  ((ElfW(Addr))1 << ((hash >> shift) % bits));
	if (nbuckets == 0 || (word & mask) != mask)
		return NULL;
	uint32_t i = buckets[hash % nbuckets];
	if (i < symoffset)
		return NULL;
	for (;; i++) {
		uint32_t h2 = chain[i - symoffset];
		if ((hash | 1) == (h2 | 1) && strcmp(name, o->strtab + o->symtab[i].st_name) == 0 &&
		    exported(o, i))
			return &o->symtab[i];
		if (h2 & 1)
			return NULL;
	}
}

static const ElfW(Sym) *sysv_lookup(const struct dynobj *o, const char *name)
{
	const uint32_t *h = o->sysv_hash, nbucket = h[0];
	const uint32_t *bucket = &h[2], *chain = &bucket[nbucket];
	uint32_t hash = 0;
	for (const unsigned char *c = (const unsigned char *)name; *c; c++) {
		hash = (hash << 4) + *c;
		uint32_t g = hash & 0xf0000000u;
		hash ^= g >> 24;
		hash &= ~g;
	}
	if (nbucket == 0)
		return NULL;
	for (uint32_t i = bucket[hash % nbucket]; i != STN_UNDEF; i = chain[i])
		if (strcmp(name, o->strtab + o->symtab[i].st_name) == 0 && exported(o, i))
			return &o->symtab[i];
	return NULL;
}

static const ElfW(Sym) *lookup(const struct dynobj *o, const char *name)
{
	if (o->gnu_hash != NULL)
		return gnu_lookup(o, name);
	return o->sysv_hash != NULL ? sysv_lookup(o, name) : NULL;
}

/* ---- resolve ------------------------------------------------------------ */

struct walk {
	struct bs_got_target *targets;
	const struct bs_got_target *ro;
	size_t n;
	uintptr_t self;   /* an address inside this library */
	uintptr_t vdso;
	size_t rewritten;
};

/* Whether info is an object whose symbols the walk looks at (neither the
 * vDSO nor this library), with its dynamic section read into o. */
static bool other_object(const struct walk *w, struct dl_phdr_info *info, struct dynobj *o)
{
	return info->dlpi_addr != w->vdso && !object_contains(info, w->self) &&
	       read_dynamic(info, o);
}

/* Marks the targets whose definition lies in this object. */
static int check_loaded(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct walk *w = arg;
	(void)size;
	for (size_t i = 0; i < w->n; i++) {
		void *real = __atomic_load_n(&w->targets[i].real, __ATOMIC_ACQUIRE);
		if (real != NULL && object_contains(info, (uintptr_t)real))
			w->targets[i].loaded = true;
	}
	return 0;
}

static int resolve_in(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct walk *w = arg;
	struct dynobj o;
	(void)size;
	if (!other_object(w, info, &o))
		return 0;
	for (size_t i = 0; i < w->n; i++) {
		struct bs_got_target *t = &w->targets[i];
		if (__atomic_load_n(&t->real, __ATOMIC_ACQUIRE) != NULL || t->ifunc ||
		    (t->library[0] != '\0' && !object_is(&o, t->library)))
			continue;
		t->library_seen = true;
		const ElfW(Sym) *s = lookup(&o, t->symbol);
		if (s == NULL)
			continue;
		if (ELF64_ST_TYPE(s->st_info) == STT_GNU_IFUNC)
			t->ifunc = true;
		else
			__atomic_store_n(&t->real, (void *)(info->dlpi_addr + s->st_value),
					 __ATOMIC_RELEASE);
	}
	return 0;
}

size_t bs_got_resolve(struct bs_got_target *targets, size_t n)
{
	struct walk w = { .targets = targets, .n = n, .self = (uintptr_t)&bs_got_resolve,
			  .vdso = getauxval(AT_SYSINFO_EHDR) };
	for (size_t i = 0; i < n; i++)
		targets[i].loaded = false;
	dl_iterate_phdr(check_loaded, &w);
	for (size_t i = 0; i < n; i++)
		if (!targets[i].loaded)
			__atomic_store_n(&targets[i].real, NULL, __ATOMIC_RELEASE);
	dl_iterate_phdr(resolve_in, &w);
	size_t missing = 0;
	for (size_t i = 0; i < n; i++)
		missing += __atomic_load_n(&targets[i].real, __ATOMIC_ACQUIRE) == NULL;
	return missing;
}

/* ---- redirect ----------------------------------------------------------- */

static unsigned long hex_value(const char **s)
{
	unsigned long v = 0;
	for (;; (*s)++) {
		char c = **s;
		int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
		if (d < 0)
			return v;
		v = v * 16 + (unsigned long)d;
	}
}

/* The protection of the page at addr as /proc/self/maps says, or -1. */
static int page_protection(uintptr_t addr)
{
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	char buf[4096];
	size_t have = 0;
	int prot = -1;
	for (;;) {
		ssize_t got = BS_REAL(read)(fd, buf + have, sizeof buf - 1 - have);
		if (got <= 0)
			break;
		have += (size_t)got;
		buf[have] = '\0';
		char *line = buf, *nl;
		while (prot < 0 && (nl = strchr(line, '\n')) != NULL) {
			const char *s = line;
			unsigned long start = hex_value(&s);
			s += *s == '-';
			unsigned long end = hex_value(&s);
			if (addr >= start && addr < end && *s == ' ' && nl - s > 4)
				prot = (s[1] == 'r' ? PROT_READ : 0) | (s[2] == 'w' ? PROT_WRITE : 0) |
				       (s[3] == 'x' ? PROT_EXEC : 0);
			line = nl + 1;
		}
		if (prot >= 0)
			break;
		have -= (size_t)(line - buf);
		memmove(buf, line, have);
		if (have == sizeof buf - 1)
			have = 0; /* a line longer than the buffer: not a mapping line */
	}
	BS_REAL(close)(fd);
	return prot;
}

static bool write_slot(void **slot, void *code)
{
	int prot = page_protection((uintptr_t)slot);
	if (prot < 0)
		return false;
	if (prot & PROT_WRITE) {
		__atomic_store_n(slot, code, __ATOMIC_RELEASE);
		return true;
	}
	uintptr_t page = (uintptr_t)slot & ~(uintptr_t)(getauxval(AT_PAGESZ) - 1);
	size_t len = getauxval(AT_PAGESZ);
	if (mprotect((void *)page, len, prot | PROT_WRITE) != 0)
		return false;
	__atomic_store_n(slot, code, __ATOMIC_RELEASE);
	mprotect((void *)page, len, prot);
	return true;
}

static void redirect_relocs(struct walk *w, const struct dynobj *o,
			    const ElfW(Rela) *rel, size_t size)
{
	for (size_t r = 0; r < size / sizeof *rel; r++) {
		unsigned type = (unsigned)ELF64_R_TYPE(rel[r].r_info);
		if (type != R_JUMP_SLOT && type != R_GLOB_DAT &&
		    !(type == R_ABS64 && rel[r].r_addend == 0))
			continue;
		const ElfW(Sym) *s = &o->symtab[ELF64_R_SYM(rel[r].r_info)];
		if (s->st_shndx != SHN_UNDEF || s->st_name == 0)
			continue; /* the object's own definition: out of reach */
		const char *name = o->strtab + s->st_name;
		for (size_t i = 0; i < w->n; i++) {
			const struct bs_got_target *t = &w->ro[i];
			void *real = __atomic_load_n(&t->real, __ATOMIC_ACQUIRE);
			if (real == NULL || strcmp(name, t->symbol) != 0)
				continue;
			void **slot = (void **)(o->info->dlpi_addr + rel[r].r_offset);
			void *now = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
			/* Bound to the definition, or a lazy slot not bound yet
			 * (it points into the object's own PLT). */
			bool ours = now == real ||
				    (type == R_JUMP_SLOT && object_contains(o->info, (uintptr_t)now));
			if (ours && write_slot(slot, t->code))
				w->rewritten++;
		}
	}
}

static int redirect_in(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct walk *w = arg;
	struct dynobj o;
	(void)size;
	if (!other_object(w, info, &o))
		return 0;
	for (int k = 0; k < 2; k++)
		if (o.rela[k] != NULL)
			redirect_relocs(w, &o, o.rela[k], o.rela_size[k]);
	return 0;
}

size_t bs_got_redirect(const struct bs_got_target *targets, size_t n)
{
	struct walk w = { .ro = targets, .n = n, .self = (uintptr_t)&bs_got_redirect,
			  .vdso = getauxval(AT_SYSINFO_EHDR) };
	dl_iterate_phdr(redirect_in, &w);
	return w.rewritten;
}
