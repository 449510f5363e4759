/* The loaders' map of guest RAM: what the kernel claimed, what hyve placed,
 * and first-fit allocation of the rest (boot_map.h). */
#include <inttypes.h>
#include <string.h>

#include "boot/boot_file.h"
#include "boot/boot_map.h"

void boot_map_init(struct boot_map *bm, const struct guest_mem *gm)
{
	memset(bm, 0, sizeof(*bm));
	bm->nr_e820 = boot_e820(gm, bm->e820, BOOT_E820_MAX);
	for (unsigned i = 0; i < bm->nr_e820; i++)
		if (bm->e820[i].type == E820_RAM &&
		    bm->e820[i].addr + bm->e820[i].size > bm->ram_top)
			bm->ram_top = bm->e820[i].addr + bm->e820[i].size;
}

static bool boot_map_in_ram(const struct boot_map *bm, uint64_t start,
			    uint64_t end)
{
	for (unsigned i = 0; i < bm->nr_e820; i++) {
		const struct e820_entry *e = &bm->e820[i];

		if (e->type == E820_RAM && start >= e->addr &&
		    end <= e->addr + e->size)
			return true;
	}
	return false;
}

/* The first piece of [start, end) that is not RAM, as a range and a name:
 * a reserved e820 entry, a gap between entries, or what lies past RAM.
 * boot_e820 returns its entries in address order. */
static void boot_map_non_ram(const struct boot_map *bm, uint64_t start,
			     uint64_t end, uint64_t *from, uint64_t *to,
			     const char **name)
{
	uint64_t prev_end = 0;

	for (unsigned i = 0; i < bm->nr_e820; i++) {
		const struct e820_entry *e = &bm->e820[i];

		/* The gap before this entry. */
		if (e->addr > prev_end && start < e->addr && end > prev_end) {
			*from = prev_end;
			*to = e->addr;
			*name = e->addr == GUEST_HIGH_RAM_START
				    ? "the PCI hole"
				    : "a hole in the memory map";
			return;
		}
		if (e->type != E820_RAM && start < e->addr + e->size &&
		    end > e->addr) {
			*from = e->addr;
			*to = e->addr + e->size;
			*name = e->addr == BOOT_EBDA_START ? "the BIOS area"
							   : "reserved memory";
			return;
		}
		prev_end = e->addr + e->size;
	}
	*from = bm->ram_top;
	*to = 0; /* open ended */
	*name = "past the end of guest RAM";
}

int boot_map_claim(struct boot_map *bm, uint64_t start, uint64_t size,
		   const char *what, struct hyve_err *err)
{
	uint64_t end = start + size, from, to;
	const char *name;

	if (size == 0)
		return 0;
	if (end < start)
		return err_set(err, ENOEXEC,
			       "%s at 0x%" PRIx64 " (0x%" PRIx64
			       " bytes) wraps around the address space",
			       what, start, size);
	if (!boot_map_in_ram(bm, start, end)) {
		boot_map_non_ram(bm, start, end, &from, &to, &name);
		if (to == 0)
			return err_set(err, ENOEXEC,
				       "%s at 0x%" PRIx64 "-0x%" PRIx64
				       " extends %s, which ends at 0x%" PRIx64
				       " (give the guest more memory with -m)",
				       what, start, end - 1, name, from);
		return err_set(err, ENOEXEC,
			       "%s at 0x%" PRIx64 "-0x%" PRIx64
			       " overlaps %s 0x%" PRIx64 "-0x%" PRIx64,
			       what, start, end - 1, name, from, to - 1);
	}
	if (bm->nr_used == BOOT_MAP_MAX_USED)
		return err_set(err, E2BIG,
			       "%s: more than %d pieces of guest memory to place",
			       what, BOOT_MAP_MAX_USED);
	bm->used[bm->nr_used++] = (struct boot_span){start, end};
	return 0;
}

/* The used span that overlaps [start, end), or NULL. */
static const struct boot_span *boot_map_conflict(const struct boot_map *bm,
						 uint64_t start, uint64_t end)
{
	for (unsigned i = 0; i < bm->nr_used; i++)
		if (start < bm->used[i].end && end > bm->used[i].start)
			return &bm->used[i];
	return NULL;
}

/* Lowest aligned place for `size` bytes in [lo, hi) avoiding used spans;
 * each conflict moves the candidate past the span it hit. */
static bool boot_map_fit_low(const struct boot_map *bm, uint64_t size,
			     uint64_t align, uint64_t lo, uint64_t hi,
			     uint64_t *out)
{
	uint64_t at = boot_align_up(lo, align);
	const struct boot_span *c;

	while (at >= lo && at <= hi && size <= hi - at) {
		c = boot_map_conflict(bm, at, at + size);
		if (!c) {
			*out = at;
			return true;
		}
		at = boot_align_up(c->end, align);
	}
	return false;
}

static bool boot_map_fit_high(const struct boot_map *bm, uint64_t size,
			      uint64_t align, uint64_t lo, uint64_t hi,
			      uint64_t *out)
{
	uint64_t at;
	const struct boot_span *c;

	if (size > hi - lo)
		return false;
	at = (hi - size) & ~(align - 1);
	while (at >= lo) {
		c = boot_map_conflict(bm, at, at + size);
		if (!c) {
			*out = at;
			return true;
		}
		if (c->start < size + lo)
			return false;
		at = (c->start - size) & ~(align - 1);
	}
	return false;
}

int boot_map_alloc(struct boot_map *bm, uint64_t size, uint64_t align,
		   uint64_t lo, uint64_t hi, enum boot_fit fit, const char *what,
		   uint64_t *gpa, struct hyve_err *err)
{
	if (size == 0)
		size = 1; /* an empty file still gets an address of its own */
	if (align == 0 || (align & (align - 1)))
		align = 1;
	for (unsigned n = 0; n < bm->nr_e820; n++) {
		/* Low fits walk the RAM ranges upwards, high fits downwards. */
		unsigned i = fit == BOOT_FIT_LOW ? n : bm->nr_e820 - 1 - n;
		const struct e820_entry *e = &bm->e820[i];
		uint64_t a = e->addr > lo ? e->addr : lo;
		uint64_t b = e->addr + e->size < hi ? e->addr + e->size : hi;
		uint64_t at;
		bool ok;

		if (e->type != E820_RAM || a >= b)
			continue;
		ok = fit == BOOT_FIT_LOW ? boot_map_fit_low(bm, size, align, a, b, &at)
					 : boot_map_fit_high(bm, size, align, a, b, &at);
		if (!ok)
			continue;
		if (bm->nr_used == BOOT_MAP_MAX_USED)
			break;
		bm->used[bm->nr_used++] = (struct boot_span){at, at + size};
		*gpa = at;
		return 0;
	}
	return err_set(err, ENOMEM,
		       "%s: %" PRIu64 " bytes do not fit in guest RAM between "
		       "0x%" PRIx64 " and 0x%" PRIx64
		       " beside the kernel and hyve's other boot data",
		       what, size, lo, hi);
}

int boot_map_alloc_data(struct boot_map *bm, uint64_t size, uint64_t align,
			const char *what, uint64_t *gpa, struct hyve_err *err)
{
	if (boot_map_alloc(bm, size, align, BOOT_LOW_FLOOR, BOOT_EBDA_START,
			   BOOT_FIT_LOW, what, gpa, NULL) == 0)
		return 0;
	return boot_map_alloc(bm, size, align, BOOT_LOW_FLOOR,
			      GUEST_HIGH_RAM_START, BOOT_FIT_LOW, what, gpa,
			      err);
}

int boot_map_gdt_and_stack(struct boot_map *bm, struct guest_mem *gm,
			   struct boot_entry *entry, struct hyve_err *err)
{
	uint64_t gdt, stack;
	int ret;

	ret = boot_map_alloc_data(bm, BOOT_GDT_LIMIT + 1, 8, "boot GDT", &gdt,
				  err);
	if (!ret)
		ret = boot_write_gdt(gm, gdt, err);
	if (!ret)
		ret = boot_map_alloc_data(bm, BOOT_STACK_SIZE, 16, "boot stack",
					  &stack, err);
	if (ret)
		return ret;
	entry->gdt_base = gdt;
	entry->rsp = stack + BOOT_STACK_SIZE;
	return 0;
}
