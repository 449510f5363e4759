/* Linux x86 boot protocol (Documentation/arch/x86/boot.rst): a bzImage of
 * protocol 2.10 or later entered at its 64-bit entry point, with the zero
 * page (struct boot_params, zero-page.rst) filled as the kernel's real-mode
 * setup code would have done on a BIOS machine. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "boot/boot_file.h"
#include "boot/boot_map.h"
#include "hyve/boot.h"

/* Setup header fields: offsets in the image and in the zero page alike. */
#define HDR_SETUP_SECTS	     0x1f1
#define HDR_VID_MODE	     0x1fa
#define HDR_BOOT_FLAG	     0x1fe
#define HDR_JUMP_END	     0x201 /* header ends at 0x202 + this byte */
#define HDR_MAGIC	     0x202
#define HDR_VERSION	     0x206
#define HDR_TYPE_OF_LOADER   0x210
#define HDR_LOADFLAGS	     0x211
#define HDR_CODE32_START     0x214
#define HDR_RAMDISK_IMAGE    0x218
#define HDR_RAMDISK_SIZE     0x21c
#define HDR_HEAP_END_PTR     0x224
#define HDR_CMD_LINE_PTR     0x228
#define HDR_INITRD_ADDR_MAX  0x22c
#define HDR_KERNEL_ALIGNMENT 0x230
#define HDR_RELOCATABLE	     0x234
#define HDR_XLOADFLAGS	     0x236
#define HDR_CMDLINE_SIZE     0x238
#define HDR_HARDWARE_SUBARCH 0x23c
#define HDR_SETUP_DATA	     0x250
#define HDR_PREF_ADDRESS     0x258
#define HDR_INIT_SIZE	     0x260
#define HDR_MIN_END	     0x264 /* a 2.10 header reaches at least past init_size */
#define HDR_MAX_END	     0x290 /* the zero page's next field (edd_mbr_sig_buffer) \
				    */

/* boot_params fields outside the setup header (zero-page.rst). */
#define BP_ACPI_RSDP_ADDR    0x070
#define BP_EXT_RAMDISK_IMAGE 0x0c0
#define BP_EXT_RAMDISK_SIZE  0x0c4
#define BP_EXT_CMD_LINE_PTR  0x0c8
#define BP_E820_ENTRIES	     0x1e8
#define BP_E820_TABLE	     0x2d0
#define BP_E820_MAX	     128
#define BP_SIZE		     4096

#define LINUX_PROTOCOL_MIN     0x020a
#define LINUX_BOOT_FLAG	       0xAA55
#define LOADFLAG_LOADED_HIGH   0x01
#define LOADFLAG_CAN_USE_HEAP  0x80
#define XLF_KERNEL_64	       0x01
#define LINUX_LOADER_UNDEFINED 0xff /* type_of_loader: no assigned id */
#define LINUX_VID_MODE_NORMAL  0xffff
#define LINUX_HEAP_END                                                         \
	0xfe00 /* boot.rst: heap_end = 0xfe00 - 0x200 below setup */
#define LINUX_ENTRY64_OFFSET 0x200 /* 64-bit entry: load address + 0x200 */

#define PT_PRESENT_RW 0x003ULL
#define PT_LARGE      0x080ULL
#define PT_2M	      (2ULL << 20)
#define PT_1G	      (1ULL << 30)

int linux_probe(const uint8_t *image, size_t image_len)
{
	return image_len >= HDR_MAGIC + 4 &&
	       memcmp(image + HDR_MAGIC, "HdrS", 4) == 0;
}

/* Identity map with 2 MiB pages of [0, max(4 GiB, top of RAM)): the boot
 * protocol wants the kernel, zero page and command line mapped; mapping all
 * of RAM (and the MMIO hole) costs a few pages and lets early code touch
 * anything.  The tables go wherever the boot map has room for them. */
static int linux_page_tables(struct guest_mem *gm, struct boot_map *bm,
			     uint64_t *cr3, struct hyve_err *err)
{
	uint64_t top = GUEST_HIGH_RAM_START, nr_pd, bytes, base;
	uint8_t *pt;
	int ret;

	for (unsigned i = 0; i < gm->nr_ranges; i++)
		if (gm->ranges[i].gpa + gm->ranges[i].size > top)
			top = gm->ranges[i].gpa + gm->ranges[i].size;
	nr_pd = boot_align_up(top, PT_1G) / PT_1G;
	if (nr_pd > 512)
		return err_set(err, E2BIG,
			       "linux: identity page tables for %" PRIu64
			       " GiB need more than one PDPT",
			       nr_pd);
	bytes = (2 + nr_pd) * GUEST_PAGE_SIZE;
	ret = boot_map_alloc_data(bm, bytes, GUEST_PAGE_SIZE,
				  "linux: identity page tables", &base, err);
	if (ret)
		return ret;
	pt = guest_ptr(gm, base, bytes);
	if (!pt)
		return err_set(
		    err, EFAULT,
		    "linux: page tables at 0x%" PRIx64 " are outside guest RAM",
		    base);
	memset(pt, 0, bytes);
	/* Page 0: PML4, page 1: PDPT, pages 2..: one page directory per GiB. */
	boot_put64(pt, (base + GUEST_PAGE_SIZE) | PT_PRESENT_RW);
	for (uint64_t g = 0; g < nr_pd; g++) {
		uint64_t pd_gpa = base + (2 + g) * GUEST_PAGE_SIZE;
		uint8_t *pd = pt + (2 + g) * GUEST_PAGE_SIZE;

		boot_put64(pt + GUEST_PAGE_SIZE + g * 8,
			   pd_gpa | PT_PRESENT_RW);
		for (uint64_t j = 0; j < 512; j++)
			boot_put64(pd + j * 8, (g * PT_1G + j * PT_2M) |
						   PT_PRESENT_RW | PT_LARGE);
	}
	*cr3 = base;
	return 0;
}

/* The initrd goes page aligned as high as the kernel allows (initrd_addr_max
 * is the last byte it may occupy) and low RAM reaches, above `kernel_end`,
 * where nothing else was placed. */
static int linux_load_initrd(struct guest_mem *gm, struct boot_map *bm,
			     const struct vm_config *cfg, uint8_t *bp,
			     uint64_t kernel_end, struct hyve_err *err)
{
	uint64_t top = (uint64_t)boot_get32(bp + HDR_INITRD_ADDR_MAX) + 1;
	uint64_t size, addr, floor = boot_align_up(kernel_end, GUEST_PAGE_SIZE);
	char what[512];
	uint8_t *dst;
	int fd, ret;

	if (!cfg->initrd[0])
		return 0;
	if (top > boot_low_ram_end(gm))
		top = boot_low_ram_end(gm);
	ret =
	    boot_file_open(cfg->initrd, "initrd", UINT64_MAX, &fd, &size, err);
	if (ret)
		return ret;
	snprintf(what, sizeof(what),
		 "initrd %.400s (above the kernel's end, below "
		 "initrd_addr_max or the end of low RAM)",
		 cfg->initrd);
	ret = boot_map_alloc(bm, size, GUEST_PAGE_SIZE, floor, top,
			     BOOT_FIT_HIGH, what, &addr, err);
	if (ret)
		goto out_close;
	if (size) {
		dst = guest_ptr(gm, addr, size);
		if (!dst) {
			ret = err_set(err, EFAULT,
				      "initrd %s: 0x%" PRIx64
				      " is outside guest RAM",
				      cfg->initrd, addr);
			goto out_close;
		}
		ret = boot_file_read(fd, dst, size, "initrd", cfg->initrd, err);
		if (ret)
			goto out_close;
	}
	boot_put32(bp + HDR_RAMDISK_IMAGE, (uint32_t)addr);
	boot_put32(bp + HDR_RAMDISK_SIZE, (uint32_t)size);
	boot_put32(bp + BP_EXT_RAMDISK_IMAGE, (uint32_t)(addr >> 32));
	boot_put32(bp + BP_EXT_RAMDISK_SIZE, (uint32_t)(size >> 32));
out_close:
	close(fd);
	return ret;
}

static void linux_fill_e820(const struct guest_mem *gm, uint8_t *bp)
{
	struct e820_entry map[BOOT_E820_MAX];
	unsigned n = boot_e820(gm, map, BOOT_E820_MAX);

	_Static_assert(BOOT_E820_MAX <= BP_E820_MAX,
		       "zero page e820 table holds 128 entries");
	_Static_assert(sizeof(struct e820_entry) == 20,
		       "boot_e820entry is 20 bytes");
	memcpy(bp + BP_E820_TABLE, map, n * sizeof(map[0]));
	bp[BP_E820_ENTRIES] = (uint8_t)n;
}

/* Where linux_load decided the kernel goes. */
struct linux_layout {
	uint64_t pm_off, pm_size; /* protected-mode code in the file */
	uint64_t load_addr;	  /* where it is copied */
	uint64_t kernel_end;	  /* end of what it needs there (init_size) */
	size_t hdr_end;		  /* end of the setup header copied */
};

/* The kernel where it runs, then everything it is handed around it: the
 * zero page, command line, page tables, GDT and stack low (boot_map.h),
 * the initrd high. */
static int linux_place(struct guest_mem *gm, const struct vm_config *cfg,
		       const uint8_t *image, const struct linux_layout *ld,
		       struct boot_entry *entry, struct hyve_err *err)
{
	size_t cmdline_len = strlen(cfg->cmdline);
	uint64_t bp_gpa, cmdline_gpa, cr3 = 0;
	struct boot_map bm;
	char what[512];
	uint8_t *bp, *dst;
	int ret;

	boot_map_init(&bm, gm);
	snprintf(what, sizeof(what), "kernel %.440s (with its init_size)",
		 cfg->kernel);
	ret = boot_map_claim(&bm, ld->load_addr,
			     ld->kernel_end - ld->load_addr, what, err);
	if (!ret)
		ret = boot_map_alloc_data(&bm, BP_SIZE, GUEST_PAGE_SIZE,
					  "linux: zero page", &bp_gpa, err);
	if (!ret)
		ret = boot_map_alloc_data(&bm, cmdline_len + 1, 16,
					  "linux: command line", &cmdline_gpa,
					  err);
	if (ret)
		return ret;
	dst = guest_ptr(gm, ld->load_addr, ld->pm_size);
	bp = guest_ptr(gm, bp_gpa, BP_SIZE);
	if (!dst || !bp ||
	    guest_mem_write(gm, cmdline_gpa, cfg->cmdline, cmdline_len + 1) < 0)
		return err_set(err, EFAULT,
			       "kernel %s: boot data does not fit in guest RAM",
			       cfg->kernel);
	memcpy(dst, image + ld->pm_off, ld->pm_size);

	memset(bp, 0, BP_SIZE);
	memcpy(bp + HDR_SETUP_SECTS, image + HDR_SETUP_SECTS,
	       ld->hdr_end - HDR_SETUP_SECTS);
	boot_put16(bp + HDR_VID_MODE, LINUX_VID_MODE_NORMAL);
	bp[HDR_TYPE_OF_LOADER] = LINUX_LOADER_UNDEFINED;
	bp[HDR_LOADFLAGS] |= LOADFLAG_CAN_USE_HEAP;
	boot_put16(bp + HDR_HEAP_END_PTR, LINUX_HEAP_END);
	boot_put32(bp + HDR_CODE32_START, (uint32_t)ld->load_addr);
	boot_put32(bp + HDR_CMD_LINE_PTR, (uint32_t)cmdline_gpa);
	boot_put32(bp + BP_EXT_CMD_LINE_PTR, (uint32_t)(cmdline_gpa >> 32));
	boot_put32(bp + HDR_HARDWARE_SUBARCH, 0); /* default x86 PC */
	boot_put64(bp + HDR_SETUP_DATA, 0);
	boot_put64(bp + BP_ACPI_RSDP_ADDR, BOOT_ACPI_RSDP_ADDR);
	linux_fill_e820(gm, bp);
	ret = linux_load_initrd(gm, &bm, cfg, bp, ld->kernel_end, err);
	if (!ret)
		ret = linux_page_tables(gm, &bm, &cr3, err);
	if (ret)
		return ret;
	*entry = (struct boot_entry){
	    .mode = BOOT_LONG64,
	    .rip = ld->load_addr + LINUX_ENTRY64_OFFSET,
	    .rsi = bp_gpa,
	    .cr3 = cr3,
	};
	return boot_map_gdt_and_stack(&bm, gm, entry, err);
}

int linux_load(struct guest_mem *gm, const struct vm_config *cfg,
	       const uint8_t *image, size_t image_len, struct boot_entry *entry,
	       struct hyve_err *err)
{
	const char *path = cfg->kernel;
	uint64_t low_end = boot_low_ram_end(gm), load_addr = BOOT_HIGH_START;
	uint64_t pm_off, pm_size, pref, align, runtime, kernel_end, need;
	size_t hdr_end, cmdline_len = strlen(cfg->cmdline);
	unsigned version, setup_sects;
	struct linux_layout ld;

	if (!linux_probe(image, image_len) || image_len < HDR_MIN_END)
		return err_set(
		    err, ENOEXEC,
		    "kernel %s: not a Linux bzImage (no \"HdrS\" setup header)",
		    path);
	version = boot_get16(image + HDR_VERSION);
	if (version < LINUX_PROTOCOL_MIN)
		return err_set(err, ENOEXEC,
			       "kernel %s: Linux boot protocol %u.%02u is too "
			       "old (hyve needs 2.10 or later)",
			       path, version >> 8, version & 0xff);
	if (boot_get16(image + HDR_BOOT_FLAG) != LINUX_BOOT_FLAG)
		return err_set(
		    err, ENOEXEC,
		    "kernel %s: setup header lacks the boot flag 0xAA55", path);
	hdr_end = HDR_MAGIC + image[HDR_JUMP_END];
	if (hdr_end < HDR_MIN_END || hdr_end > image_len)
		return err_set(err, ENOEXEC,
			       "kernel %s: setup header ends at 0x%zx, outside "
			       "0x%x..file size 0x%zx",
			       path, hdr_end, HDR_MIN_END, image_len);
	if (hdr_end > HDR_MAX_END)
		hdr_end =
		    HDR_MAX_END; /* newer fields than the zero page holds */
	if (!(image[HDR_LOADFLAGS] & LOADFLAG_LOADED_HIGH))
		return err_set(err, ENOEXEC,
			       "kernel %s: zImage loaded low (LOADED_HIGH not "
			       "set); hyve loads bzImage only",
			       path);
	if (!(boot_get16(image + HDR_XLOADFLAGS) & XLF_KERNEL_64))
		return err_set(
		    err, ENOEXEC,
		    "kernel %s: no 64-bit entry point (XLF_KERNEL_64 not set); "
		    "hyve boots 64-bit kernels",
		    path);
	setup_sects =
	    image[HDR_SETUP_SECTS] ? image[HDR_SETUP_SECTS] : 4; /* 0 means 4 */
	pm_off = ((uint64_t)setup_sects + 1) * 512;
	if (pm_off >= image_len)
		return err_set(
		    err, ENOEXEC,
		    "kernel %s: setup code (%u sectors) covers the whole file",
		    path, setup_sects);
	pm_size = image_len - pm_off;

	/* Where the kernel will run: a relocatable kernel rounds its load
	 * address up to kernel_alignment but never below pref_address
	 * (LOAD_PHYSICAL_ADDR), and needs init_size bytes from there. */
	pref = boot_get64(image + HDR_PREF_ADDRESS);
	align = boot_get32(image + HDR_KERNEL_ALIGNMENT);
	need = boot_get32(image + HDR_INIT_SIZE);
	if (need < pm_size)
		need = pm_size;
	if (image[HDR_RELOCATABLE] && pref >= BOOT_HIGH_START &&
	    pref < low_end && need <= low_end - pref)
		load_addr = pref;
	runtime = load_addr;
	if (align && (align & (align - 1)) == 0 && align <= PT_1G)
		runtime = boot_align_up(runtime, align);
	if (runtime < pref)
		runtime = pref;
	if (runtime > low_end || need > low_end - runtime ||
	    pm_size > low_end - load_addr)
		return err_set(
		    err, ENOMEM,
		    "kernel %s: runs at 0x%" PRIx64 " and needs 0x%" PRIx64
		    " bytes there (init_size), but low RAM ends at 0x%" PRIx64,
		    path, runtime, need, low_end);
	kernel_end = runtime + need;
	if (load_addr + pm_size > kernel_end)
		kernel_end = load_addr + pm_size;
	if (cmdline_len > boot_get32(image + HDR_CMDLINE_SIZE) ||
	    cmdline_len >= BOOT_CMDLINE_MAX)
		return err_set(err, E2BIG,
			       "kernel %s: command line is %zu bytes, longer "
			       "than the kernel's limit of %u",
			       path, cmdline_len,
			       boot_get32(image + HDR_CMDLINE_SIZE));
	ld = (struct linux_layout){.pm_off = pm_off,
				   .pm_size = pm_size,
				   .load_addr = load_addr,
				   .kernel_end = kernel_end,
				   .hdr_end = hdr_end};
	return linux_place(gm, cfg, image, &ld, entry, err);
}

