/* Prints what the Multiboot information structure says, for the loader
 * tests to compare with what hyve was asked for:
 *   mbinfo: image START-END info INFO        (hex: where this guest was
 *                                            linked, where the loader put
 *                                            the information structure)
 *   mbinfo: mem_lower L mem_upper U          (KiB)
 *   mbinfo: mmap BASE LEN TYPE               (hex, one line per entry)
 *   mbinfo: module I size N fnv1a X cmdline 'S'
 *   mbinfo: module I at START
 * The module checksums (FNV-1a, 64-bit) run in ring 3, where this host
 * executes natively; ring 0 would crawl through large modules. */
#include "guest.h"

extern char __image_start[], _end[]; /* from the linker script */
extern u32 mb_info_addr;	     /* EBX at entry (lib/entry.S) */

struct span {
	const u8 *p;
	u64 n;
};

static u64 fnv1a(u64 arg)
{
	const struct span *s = (const struct span *)arg;
	u64 h = 0xcbf29ce484222325ull;

	for (u64 i = 0; i < s->n; i++)
		h = (h ^ s->p[i]) * 0x100000001b3ull;
	return h;
}

int guest_main(void)
{
	u64 base, len, start, end;
	u32 type;
	const char *cmd;

	gprintf("mbinfo: image %#lx-%#lx info %#x\n", (u64)__image_start,
		(u64)_end, mb_info_addr);
	gprintf("mbinfo: mem_lower %u mem_upper %u\n", mb_mem_lower_kb(),
		mb_mem_upper_kb());
	for (unsigned i = 0; mb_mmap_entry(i, &base, &len, &type); i++)
		gprintf("mbinfo: mmap %#lx %#lx %u\n", base, len, type);
	for (unsigned i = 0; mb_module(i, &start, &end, &cmd); i++) {
		if (end < start || end > (1ull << 32))
			guest_fail("module %u spans %#lx..%#lx", i, start, end);
		struct span s = {(const u8 *)start, end - start};
		gprintf("mbinfo: module %u size %lu fnv1a %#lx cmdline '%s'\n",
			i, end - start, run_user(fnv1a, (u64)&s), cmd);
		gprintf("mbinfo: module %u at %#lx\n", i, start);
		if (start & 0xfff)
			guest_fail("module %u at %#lx is not page aligned "
				   "(header flag bit 0)",
				   i, start);
	}
	gprintf("mbinfo: %u modules\n", mb_module_count());
	return GUEST_EXIT_PASS;
}
