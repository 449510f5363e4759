/* Multiboot v1 loader (Multiboot Specification 0.6.96): ELF32/ELF64 kernels
 * loaded by their PT_LOAD segments at p_paddr, or the a.out-kludge form
 * (header flag bit 16) loaded by the addresses in the Multiboot header.
 * Everything read from the image is untrusted: every segment is checked
 * against the file and against guest RAM before a byte is copied. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "boot/boot_file.h"
#include "boot/boot_map.h"
#include "hyve/boot.h"

#define MB_HEADER_MAGIC	     0x1BADB002U
#define MB_SEARCH_LEN	     8192 /* spec 3.1.1: header within the first 8 KiB */
#define MB_HEADER_LEN	     12	  /* magic, flags, checksum */
#define MB_KLUDGE_HEADER_LEN 32	  /* + header/load/load_end/bss_end/entry */

#define MB_HFLAG_PAGE_ALIGN    (1U << 0) /* modules page aligned: always done */
#define MB_HFLAG_MEMINFO       (1U << 1) /* mem_* and mmap: always given */
#define MB_HFLAG_VIDEO	       (1U << 2) /* video mode table: not provided */
#define MB_HFLAG_AOUT_KLUDGE   (1U << 16)
#define MB_HFLAG_REQUIRED_MASK 0xFFFFU /* spec 3.1.2: bits 0-15 must be met */

/* Boot information structure (spec 3.3): offsets of the fields we fill. */
#define MBI_FLAGS	     0
#define MBI_MEM_LOWER	     4
#define MBI_MEM_UPPER	     8
#define MBI_CMDLINE	     16
#define MBI_MODS_COUNT	     20
#define MBI_MODS_ADDR	     24
#define MBI_MMAP_LENGTH	     44
#define MBI_MMAP_ADDR	     48
#define MBI_BOOT_LOADER_NAME 64
#define MBI_SIZE	     116
#define MBI_F_MEMORY	     (1U << 0)
#define MBI_F_CMDLINE	     (1U << 2)
#define MBI_F_MODS	     (1U << 3)
#define MBI_F_MMAP	     (1U << 6)
#define MBI_F_LOADER_NAME    (1U << 9)
#define MB_MOD_SIZE	     16 /* mod_start, mod_end, string, reserved */
#define MB_MMAP_SIZE	     24 /* size (=20), base_addr, length, type */

/* ELF (System V ABI): only the fields a loader needs. */
#define ELF_CLASS32   1
#define ELF_CLASS64   2
#define ELF_DATA_LSB  1
#define ELF_EM_386    3
#define ELF_EM_X86_64 62
#define ELF_PT_LOAD   1

struct mb_segment {
	uint64_t paddr, vaddr, file_off, filesz, memsz;
};

struct mb_loader {
	struct guest_mem *gm;
	const struct vm_config *cfg;
	const uint8_t *image;
	size_t len;
	uint64_t kernel_end; /* highest byte loaded + 1 */
	struct boot_map map; /* the segments claimed, the boot data placed */
	struct hyve_err *err;
};

static size_t mb_header_offset(const uint8_t *image, size_t len)
{
	size_t end = len < MB_SEARCH_LEN ? len : MB_SEARCH_LEN;

	for (size_t off = 0; off + MB_HEADER_LEN <= end; off += 4) {
		uint32_t magic = boot_get32(image + off);

		if (magic == MB_HEADER_MAGIC &&
		    (uint32_t)(magic + boot_get32(image + off + 4) +
			       boot_get32(image + off + 8)) == 0)
			return off;
	}
	return SIZE_MAX;
}

int multiboot_probe(const uint8_t *image, size_t image_len)
{
	return mb_header_offset(image, image_len) != SIZE_MAX;
}

/* Copies one segment into guest RAM; zeroes its memsz - filesz tail. */
static int mb_load_segment(struct mb_loader *ld, unsigned index,
			   const struct mb_segment *s)
{
	const char *path = ld->cfg->kernel;
	char what[512];
	uint8_t *dst;
	int ret;

	if (s->filesz > s->memsz)
		return err_set(
		    ld->err, ENOEXEC,
		    "kernel %s: segment %u has a file size (0x%" PRIx64
		    ") larger than its memory size (0x%" PRIx64 ")",
		    path, index, s->filesz, s->memsz);
	if (s->file_off > ld->len || s->filesz > ld->len - s->file_off)
		return err_set(
		    ld->err, ENOEXEC,
		    "kernel %s: segment %u (file offset 0x%" PRIx64
		    ", 0x%" PRIx64
		    " bytes) extends beyond the end of the file (0x%zx bytes)",
		    path, index, s->file_off, s->filesz, ld->len);
	if (s->memsz == 0)
		return 0;
	/* The Multiboot specification lets a kernel load anywhere in RAM:
	 * only memory that is not RAM (the BIOS area, the PCI hole, past the
	 * end) is refused.  hyve's own boot data is placed afterwards. */
	snprintf(what, sizeof(what), "kernel %.460s: segment %u", path, index);
	ret = boot_map_claim(&ld->map, s->paddr, s->memsz, what, ld->err);
	if (ret)
		return ret;
	dst = guest_ptr(ld->gm, s->paddr, s->memsz);
	if (!dst)
		return err_set(ld->err, ENOEXEC,
			       "kernel %s: segment %u at 0x%" PRIx64
			       " (0x%" PRIx64 " bytes) is outside guest RAM",
			       path, index, s->paddr, s->memsz);
	memcpy(dst, ld->image + s->file_off, s->filesz);
	memset(dst + s->filesz, 0, s->memsz - s->filesz);
	if (s->paddr + s->memsz > ld->kernel_end)
		ld->kernel_end = s->paddr + s->memsz;
	return 0;
}

static void mb_read_phdr(const uint8_t *p, int is64, struct mb_segment *s,
			 uint32_t *type)
{
	*type = boot_get32(p);
	if (is64) {
		s->file_off = boot_get64(p + 8);
		s->vaddr = boot_get64(p + 16);
		s->paddr = boot_get64(p + 24);
		s->filesz = boot_get64(p + 32);
		s->memsz = boot_get64(p + 40);
	} else {
		s->file_off = boot_get32(p + 4);
		s->vaddr = boot_get32(p + 8);
		s->paddr = boot_get32(p + 12);
		s->filesz = boot_get32(p + 16);
		s->memsz = boot_get32(p + 20);
	}
}

static int mb_load_elf(struct mb_loader *ld, uint64_t *entry_out)
{
	const uint8_t *img = ld->image;
	const char *path = ld->cfg->kernel;
	uint64_t phoff, entry, paddr_entry;
	unsigned phentsize, phnum, machine, nr_load = 0;
	int is64, entry_found = 0, ret;

	if (ld->len < 52 || memcmp(img, "\177ELF", 4) != 0)
		return err_set(ld->err, ENOEXEC,
			       "kernel %s: Multiboot header without the a.out "
			       "kludge (flag bit 16), and not an ELF file",
			       path);
	if (img[4] != ELF_CLASS32 && img[4] != ELF_CLASS64)
		return err_set(ld->err, ENOEXEC,
			       "kernel %s: unknown ELF class %u", path, img[4]);
	if (img[5] != ELF_DATA_LSB)
		return err_set(ld->err, ENOEXEC,
			       "kernel %s: ELF file is not little-endian",
			       path);
	is64 = img[4] == ELF_CLASS64;
	if (is64 && ld->len < 64)
		return err_set(ld->err, ENOEXEC,
			       "kernel %s: ELF64 header is truncated", path);
	machine = boot_get16(img + 18);
	if (machine != (is64 ? ELF_EM_X86_64 : ELF_EM_386))
		return err_set(ld->err, ENOEXEC,
			       "kernel %s: ELF%d file for machine %u, not x86",
			       path, is64 ? 64 : 32, machine);
	if (is64) {
		entry = boot_get64(img + 24);
		phoff = boot_get64(img + 32);
		phentsize = boot_get16(img + 54);
		phnum = boot_get16(img + 56);
	} else {
		entry = boot_get32(img + 24);
		phoff = boot_get32(img + 28);
		phentsize = boot_get16(img + 42);
		phnum = boot_get16(img + 44);
	}
	if (phentsize < (is64 ? 56U : 32U))
		return err_set(
		    ld->err, ENOEXEC,
		    "kernel %s: ELF program header size %u is too small", path,
		    phentsize);
	if (phoff > ld->len || (uint64_t)phentsize * phnum > ld->len - phoff)
		return err_set(
		    ld->err, ENOEXEC,
		    "kernel %s: ELF program headers (offset 0x%" PRIx64
		    ", %u x %u bytes) extend beyond the end of the file",
		    path, phoff, phnum, phentsize);
	paddr_entry = entry;
	for (unsigned i = 0; i < phnum; i++) {
		struct mb_segment s;
		uint32_t type;

		mb_read_phdr(img + phoff + (uint64_t)i * phentsize, is64, &s,
			     &type);
		if (type != ELF_PT_LOAD)
			continue;
		ret = mb_load_segment(ld, i, &s);
		if (ret)
			return ret;
		nr_load++;
		/* e_entry is virtual; a kernel linked high but loaded low by
		 * p_paddr is entered at the physical twin of its entry. */
		if (!entry_found && entry >= s.vaddr &&
		    entry - s.vaddr < s.memsz) {
			paddr_entry = s.paddr + (entry - s.vaddr);
			entry_found = 1;
		}
	}
	if (nr_load == 0)
		return err_set(
		    ld->err, ENOEXEC,
		    "kernel %s: ELF file has no loadable (PT_LOAD) segment",
		    path);
	if (!entry_found)
		return err_set(ld->err, ENOEXEC,
			       "kernel %s: ELF entry point 0x%" PRIx64
			       " is not inside any loaded segment",
			       path, entry);
	if (paddr_entry > UINT32_MAX)
		return err_set(
		    ld->err, ENOEXEC,
		    "kernel %s: entry point 0x%" PRIx64
		    " is above 4 GiB, unreachable in 32-bit protected mode",
		    path, paddr_entry);
	*entry_out = paddr_entry;
	return 0;
}

/* Spec 3.1.3: the header's address fields place the file in memory. */
static int mb_load_kludge(struct mb_loader *ld, size_t hoff,
			  uint64_t *entry_out)
{
	const uint8_t *h = ld->image + hoff;
	const char *path = ld->cfg->kernel;
	uint32_t header_addr, load_addr, load_end, bss_end, entry;
	struct mb_segment s;
	int ret;

	if (hoff + MB_KLUDGE_HEADER_LEN > MB_SEARCH_LEN ||
	    hoff + MB_KLUDGE_HEADER_LEN > ld->len)
		return err_set(
		    ld->err, ENOEXEC,
		    "kernel %s: Multiboot a.out-kludge header at 0x%zx is cut "
		    "off (it must lie in the first 8 KiB)",
		    path, hoff);
	header_addr = boot_get32(h + 12);
	load_addr = boot_get32(h + 16);
	load_end = boot_get32(h + 20);
	bss_end = boot_get32(h + 24);
	entry = boot_get32(h + 28);
	if (load_addr > header_addr || header_addr - load_addr > hoff)
		return err_set(
		    ld->err, ENOEXEC,
		    "kernel %s: Multiboot load_addr 0x%x and header_addr 0x%x "
		    "put the load start before the beginning of the file",
		    path, load_addr, header_addr);
	s.paddr = s.vaddr = load_addr;
	s.file_off = hoff - (header_addr - load_addr);
	if (load_end == 0) {
		s.filesz =
		    ld->len - s.file_off; /* 0: load to the end of the file */
	} else {
		if (load_end < load_addr)
			return err_set(ld->err, ENOEXEC,
				       "kernel %s: Multiboot load_end_addr "
				       "0x%x is below load_addr 0x%x",
				       path, load_end, load_addr);
		s.filesz = (uint64_t)load_end - load_addr;
	}
	s.memsz = s.filesz;
	if (bss_end != 0) {
		if (bss_end < load_addr + s.filesz)
			return err_set(
			    ld->err, ENOEXEC,
			    "kernel %s: Multiboot bss_end_addr 0x%x is below "
			    "the end of the loaded image 0x%" PRIx64,
			    path, bss_end, load_addr + s.filesz);
		s.memsz = (uint64_t)bss_end - load_addr;
	}
	ret = mb_load_segment(ld, 0, &s);
	if (ret)
		return ret;
	if (entry < load_addr || entry - load_addr >= s.memsz)
		return err_set(ld->err, ENOEXEC,
			       "kernel %s: Multiboot entry_addr 0x%x is "
			       "outside the loaded image 0x%x-0x%" PRIx64,
			       path, entry, load_addr, load_addr + s.memsz);
	*entry_out = entry;
	return 0;
}

/* Places a piece of the boot information (boot_map_alloc_data: low memory
 * first); returns the guest address and a host pointer. */
static uint8_t *mb_info_alloc(struct mb_loader *ld, uint64_t size,
			      uint64_t align, const char *what, uint32_t *gpa)
{
	uint64_t at;

	if (boot_map_alloc_data(&ld->map, size, align, what, &at, ld->err))
		return NULL;
	*gpa = (uint32_t)at;
	return guest_ptr(ld->gm, at, size);
}

/* "path args", or "path" alone: the string other loaders give. */
static int mb_info_string(struct mb_loader *ld, const char *path,
			  const char *args, uint32_t *gpa)
{
	size_t plen = strlen(path), alen = args ? strlen(args) : 0;
	uint8_t *p = mb_info_alloc(ld, plen + (alen ? 1 + alen : 0) + 1, 1,
				   "multiboot: command line", gpa);

	if (!p)
		return -ENOMEM;
	memcpy(p, path, plen);
	if (alen) {
		p[plen] = ' ';
		memcpy(p + plen + 1, args, alen);
		plen += 1 + alen;
	}
	p[plen] = 0;
	return 0;
}

/* Where a module goes: page aligned (header flag bit 0 is always honoured),
 * right after the kernel's highest segment as GRUB and QEMU place modules;
 * where that is taken (a kernel just below the PCI hole), the lowest free
 * place above 1 MiB, then below it.  Always below 4 GiB: the module list
 * holds 32-bit addresses. */
static int mb_place_module(struct mb_loader *ld, const char *path,
			   uint64_t size, uint64_t *at)
{
	char what[512];
	uint64_t after = ld->kernel_end > BOOT_HIGH_START ? ld->kernel_end
							  : BOOT_HIGH_START;

	snprintf(what, sizeof(what), "module %.480s", path);
	if (boot_map_alloc(&ld->map, size, GUEST_PAGE_SIZE, after,
			   GUEST_HIGH_RAM_START, BOOT_FIT_LOW, what, at,
			   NULL) == 0 ||
	    boot_map_alloc(&ld->map, size, GUEST_PAGE_SIZE, BOOT_HIGH_START,
			   GUEST_HIGH_RAM_START, BOOT_FIT_LOW, what, at,
			   NULL) == 0)
		return 0;
	return boot_map_alloc(&ld->map, size, GUEST_PAGE_SIZE, BOOT_LOW_FLOOR,
			      GUEST_HIGH_RAM_START, BOOT_FIT_LOW, what, at,
			      ld->err);
}

/* Loads every module into guest RAM; records where in `starts`/`sizes`. */
static int mb_load_modules(struct mb_loader *ld, uint64_t *starts,
			   uint64_t *sizes)
{
	const struct vm_config *cfg = ld->cfg;

	if (cfg->nr_modules > HYVE_MAX_MODULES)
		return err_set(ld->err, EINVAL,
			       "multiboot: %u modules, at most %d",
			       cfg->nr_modules, HYVE_MAX_MODULES);
	for (unsigned i = 0; i < cfg->nr_modules; i++) {
		const struct module_config *mod = &cfg->modules[i];
		uint64_t size;
		uint8_t *dst;
		int fd, ret;

		ret = boot_file_open(mod->path, "module", GUEST_HIGH_RAM_START,
				     &fd, &size, ld->err);
		if (ret)
			return ret;
		ret = mb_place_module(ld, mod->path, size, &starts[i]);
		if (ret) {
			close(fd);
			return ret;
		}
		sizes[i] = size;
		dst = guest_ptr(ld->gm, starts[i], size ? size : 1);
		ret = dst ? boot_file_read(fd, dst, size, "module", mod->path,
					   ld->err)
			  : -EFAULT;
		close(fd);
		if (ret)
			return ret;
	}
	return 0;
}

/* The module list (spec 3.3: mod_start, mod_end, string, reserved). */
static int mb_write_modules(struct mb_loader *ld, uint8_t *info,
			    const uint64_t *starts, const uint64_t *sizes)
{
	const struct vm_config *cfg = ld->cfg;
	uint32_t mods_gpa;
	uint8_t *mods;

	if (cfg->nr_modules == 0)
		return 0;
	mods = mb_info_alloc(ld, (uint64_t)cfg->nr_modules * MB_MOD_SIZE, 16,
			     "multiboot: module list", &mods_gpa);
	if (!mods)
		return -ENOMEM;
	for (unsigned i = 0; i < cfg->nr_modules; i++) {
		const struct module_config *mod = &cfg->modules[i];
		uint32_t str_gpa;
		int ret = mb_info_string(ld, mod->path, mod->args, &str_gpa);

		if (ret)
			return ret;
		boot_put32(mods + i * MB_MOD_SIZE, (uint32_t)starts[i]);
		boot_put32(mods + i * MB_MOD_SIZE + 4,
			   (uint32_t)(starts[i] + sizes[i]));
		boot_put32(mods + i * MB_MOD_SIZE + 8, str_gpa);
		boot_put32(mods + i * MB_MOD_SIZE + 12, 0);
	}
	boot_put32(info + MBI_MODS_COUNT, cfg->nr_modules);
	boot_put32(info + MBI_MODS_ADDR, mods_gpa);
	boot_put32(info + MBI_FLAGS, boot_get32(info + MBI_FLAGS) | MBI_F_MODS);
	return 0;
}

/* Modules first (they are large and want to follow the kernel), then the
 * information structure and its strings in whatever room is left. */
static int mb_write_info(struct mb_loader *ld, uint32_t *info_gpa)
{
	struct e820_entry map[BOOT_E820_MAX];
	unsigned n = boot_e820(ld->gm, map, BOOT_E820_MAX);
	uint64_t low_end = boot_low_ram_end(ld->gm);
	uint64_t starts[HYVE_MAX_MODULES], sizes[HYVE_MAX_MODULES];
	uint32_t mmap_gpa, str_gpa;
	uint8_t *info, *mmap;
	int ret;

	ret = mb_load_modules(ld, starts, sizes);
	if (ret)
		return ret;
	info = mb_info_alloc(ld, MBI_SIZE, 8, "multiboot: information",
			     info_gpa);
	if (!info)
		return -ENOMEM;
	memset(info, 0, MBI_SIZE);
	/* mem_lower: KiB from 0 (640 KiB at most); mem_upper: KiB from 1 MiB
	 * up to the first hole (spec 3.3). */
	boot_put32(info + MBI_MEM_LOWER, (uint32_t)(BOOT_EBDA_START >> 10));
	boot_put32(info + MBI_MEM_UPPER,
		   (uint32_t)((low_end - BOOT_HIGH_START) >> 10));
	mmap = mb_info_alloc(ld, (uint64_t)n * MB_MMAP_SIZE, 8,
			     "multiboot: memory map", &mmap_gpa);
	if (!mmap)
		return -ENOMEM;
	for (unsigned i = 0; i < n; i++) {
		uint8_t *e = mmap + i * MB_MMAP_SIZE;

		boot_put32(e, MB_MMAP_SIZE - 4); /* size excludes itself */
		boot_put64(e + 4, map[i].addr);
		boot_put64(e + 12, map[i].size);
		boot_put32(e + 20, map[i].type);
	}
	boot_put32(info + MBI_MMAP_LENGTH, n * MB_MMAP_SIZE);
	boot_put32(info + MBI_MMAP_ADDR, mmap_gpa);
	ret = mb_info_string(ld, "hyve", NULL, &str_gpa);
	if (ret)
		return ret;
	boot_put32(info + MBI_BOOT_LOADER_NAME, str_gpa);
	ret = mb_info_string(ld, ld->cfg->kernel, ld->cfg->cmdline, &str_gpa);
	if (ret)
		return ret;
	boot_put32(info + MBI_CMDLINE, str_gpa);
	boot_put32(info + MBI_FLAGS, MBI_F_MEMORY | MBI_F_CMDLINE | MBI_F_MMAP |
					 MBI_F_LOADER_NAME);
	return mb_write_modules(ld, info, starts, sizes);
}

int multiboot_load(struct guest_mem *gm, const struct vm_config *cfg,
		   const uint8_t *image, size_t image_len,
		   struct boot_entry *entry, struct hyve_err *err)
{
	struct mb_loader ld = {
	    .gm = gm, .cfg = cfg, .image = image, .len = image_len, .err = err};
	size_t hoff = mb_header_offset(image, image_len);
	uint64_t rip = 0;
	uint32_t flags, info_gpa = 0;
	int ret;

	if (hoff == SIZE_MAX)
		return err_set(
		    err, ENOEXEC,
		    "kernel %s: no Multiboot header in the first 8 KiB",
		    cfg->kernel);
	flags = boot_get32(image + hoff + 4);
	if (flags & MB_HFLAG_VIDEO)
		return err_set(
		    err, ENOEXEC,
		    "kernel %s: Multiboot header requires video mode "
		    "information (flag bit 2), which hyve does not provide",
		    cfg->kernel);
	if (flags & MB_HFLAG_REQUIRED_MASK &
	    ~(MB_HFLAG_PAGE_ALIGN | MB_HFLAG_MEMINFO))
		return err_set(err, ENOEXEC,
			       "kernel %s: Multiboot header requires unknown "
			       "features (flags 0x%x)",
			       cfg->kernel, flags);
	boot_map_init(&ld.map, gm);
	/* Spec 3.1.3: with bit 16 set the header's addresses win, even for
	 * an ELF file. */
	if (flags & MB_HFLAG_AOUT_KLUDGE)
		ret = mb_load_kludge(&ld, hoff, &rip);
	else
		ret = mb_load_elf(&ld, &rip);
	if (ret)
		return ret;
	ret = mb_write_info(&ld, &info_gpa);
	if (ret)
		return ret;
	*entry = (struct boot_entry){
	    .mode = BOOT_PROTECTED32,
	    .rip = rip,
	    .rax = BOOT_MB_BOOTLOADER_MAGIC,
	    .rbx = info_gpa,
	};
	/* The spec leaves ESP undefined and GDTR to be replaced: both are
	 * given anyway, somewhere harmless. */
	return boot_map_gdt_and_stack(&ld.map, gm, entry, err);
}
