/* Multiboot v1 information (spec 0.6.96, section 3.3).  Everything is
 * copied into the guest's own memory at boot so that later low-memory use
 * (the AP trampoline) cannot clobber what the loader left. */
#include "internal.h"

#define MBI_MEM	    (1u << 0)
#define MBI_CMDLINE (1u << 2)
#define MBI_MODS    (1u << 3)
#define MBI_MMAP    (1u << 6)

#define MAX_MMAP	32
#define MAX_MODS	16
#define CMDLINE_MAX	4096
#define MOD_CMDLINE_MAX 256

struct mbi {
	u32 flags, mem_lower, mem_upper, boot_device, cmdline, mods_count,
	    mods_addr;
	u32 syms[4];
	u32 mmap_length, mmap_addr;
} __attribute__((packed));

struct mbi_module {
	u32 start, end, string, reserved;
} __attribute__((packed));

struct mbi_mmap {
	u32 size;
	u64 base, len;
	u32 type;
} __attribute__((packed));

struct mmap_entry {
	u64 base, len;
	u32 type;
};

struct module {
	u64 start, end;
	char cmdline[MOD_CMDLINE_MAX];
};

static __attribute__((section(".bss.big"))) char cmdline[CMDLINE_MAX];
static __attribute__((section(".bss.big"))) struct module mods[MAX_MODS];
static struct mmap_entry mmap[MAX_MMAP];
static unsigned nr_mmap, nr_mods;
static bool have_cmdline, have_mem;
static u32 mem_lower, mem_upper;
static u64 free_start;

static void raise_free_start(u64 end)
{
	if (end > free_start)
		free_start = end;
}

/* Copies a NUL-terminated loader string; returns its end address. */
static u64 copy_string(char *dst, size_t size, u32 src)
{
	const char *s = (const char *)(u64)src;
	size_t n = 0;

	while (s[n] && n + 1 < size) {
		dst[n] = s[n];
		n++;
	}
	dst[n] = '\0';
	return (u64)src + n + 1;
}

void mb_parse(u32 info_addr)
{
	const struct mbi *mbi = (const struct mbi *)(u64)info_addr;

	free_start = (u64)_end;
	raise_free_start((u64)info_addr + sizeof(*mbi));
	if (mbi->flags & MBI_MEM) {
		have_mem = true;
		mem_lower = mbi->mem_lower;
		mem_upper = mbi->mem_upper;
	}
	if (mbi->flags & MBI_CMDLINE) {
		have_cmdline = true;
		raise_free_start(
		    copy_string(cmdline, sizeof(cmdline), mbi->cmdline));
	}
	if (mbi->flags & MBI_MMAP) {
		u64 p = mbi->mmap_addr, end = p + mbi->mmap_length;
		raise_free_start(end);
		while (p + sizeof(struct mbi_mmap) <= end &&
		       nr_mmap < MAX_MMAP) {
			const struct mbi_mmap *e = (const struct mbi_mmap *)p;
			if (e->size < 20)
				break; /* malformed: stop rather than loop */
			mmap[nr_mmap].base = e->base;
			mmap[nr_mmap].len = e->len;
			mmap[nr_mmap].type = e->type;
			nr_mmap++;
			p += e->size + 4;
		}
	}
	if (mbi->flags & MBI_MODS) {
		const struct mbi_module *m =
		    (const struct mbi_module *)(u64)mbi->mods_addr;
		raise_free_start((u64)mbi->mods_addr +
				 (u64)mbi->mods_count * sizeof(*m));
		for (u32 i = 0; i < mbi->mods_count && i < MAX_MODS; i++) {
			mods[i].start = m[i].start;
			mods[i].end = m[i].end;
			raise_free_start(m[i].end);
			if (m[i].string)
				raise_free_start(copy_string(mods[i].cmdline,
							     MOD_CMDLINE_MAX,
							     m[i].string));
			else
				mods[i].cmdline[0] = '\0';
			nr_mods++;
		}
	}
	free_start = (free_start + 0xfff) & ~0xfffull;
}

const char *mb_cmdline(void)
{
	return have_cmdline ? cmdline : NULL;
}

bool mb_arg(const char *key, char *buf, size_t size)
{
	size_t klen = strlen(key);
	const char *p = cmdline;

	if (!have_cmdline || !size)
		return false;
	while (*p) {
		while (*p == ' ')
			p++;
		const char *word = p;
		while (*p && *p != ' ')
			p++;
		if ((size_t)(p - word) > klen && !strncmp(word, key, klen) &&
		    word[klen] == '=') {
			size_t n = 0;
			for (const char *v = word + klen + 1;
			     v < p && n + 1 < size; v++)
				buf[n++] = *v;
			buf[n] = '\0';
			return true;
		}
	}
	return false;
}

u64 mb_arg_u64(const char *key, u64 fallback)
{
	char buf[24];
	u64 v = 0;
	unsigned base = 10;
	const char *p = buf;

	if (!mb_arg(key, buf, sizeof(buf)) || !buf[0])
		return fallback;
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
		base = 16, p += 2;
	for (; *p; p++) {
		unsigned d;
		if (*p >= '0' && *p <= '9')
			d = *p - '0';
		else if (base == 16 && (*p | 0x20) >= 'a' && (*p | 0x20) <= 'f')
			d = (*p | 0x20) - 'a' + 10;
		else
			guest_fail("command line: %s=%s is not a number", key,
				   buf);
		v = v * base + d;
	}
	return v;
}

u32 mb_mem_lower_kb(void)
{
	return have_mem ? mem_lower : 0;
}

u32 mb_mem_upper_kb(void)
{
	return have_mem ? mem_upper : 0;
}

bool mb_mmap_entry(unsigned i, u64 *base, u64 *len, u32 *type)
{
	if (i >= nr_mmap)
		return false;
	*base = mmap[i].base;
	*len = mmap[i].len;
	*type = mmap[i].type;
	return true;
}

unsigned mb_module_count(void)
{
	return nr_mods;
}

bool mb_module(unsigned i, u64 *start, u64 *end, const char **mod_cmdline)
{
	if (i >= nr_mods)
		return false;
	*start = mods[i].start;
	*end = mods[i].end;
	*mod_cmdline = mods[i].cmdline;
	return true;
}

u64 mb_free_start(void)
{
	return free_start;
}

u64 mb_find_ram(u64 size, u64 align)
{
	for (unsigned i = 0; i < nr_mmap; i++) {
		if (mmap[i].type != 1)
			continue;
		u64 start =
		    mmap[i].base > free_start ? mmap[i].base : free_start;
		start = (start + align - 1) & ~(align - 1);
		u64 end = mmap[i].base + mmap[i].len;
		/* only the identity-mapped first 4 GiB is reachable */
		if (start + size <= end && start + size <= (1ull << 32))
			return start;
	}
	return 0;
}
