/* Multiboot v1 header (Multiboot spec 0.6.96, section 3.1.1).  Built twice:
 * the plain form lets the loader read the ELF program headers; with
 * MB_AOUT_KLUDGE, flag bit 16 gives the load addresses in the header itself
 * (section 3.1.3) so a raw binary boots too. */
#define MB_MAGIC 0x1BADB002
#define MB_PAGE_ALIGN (1 << 0) /* modules on page boundaries */
#define MB_MEMINFO (1 << 1)    /* mem_lower/upper and the memory map */
#define MB_AOUT (1 << 16)

#ifdef MB_AOUT_KLUDGE
#define MB_FLAGS (MB_PAGE_ALIGN | MB_MEMINFO | MB_AOUT)
#else
#define MB_FLAGS (MB_PAGE_ALIGN | MB_MEMINFO)
#endif

	.section .multiboot, "a"
	.align 4
mb_header:
	.long MB_MAGIC
	.long MB_FLAGS
	.long -(MB_MAGIC + MB_FLAGS)
#ifdef MB_AOUT_KLUDGE
	.long mb_header		/* header_addr */
	.long __image_start	/* load_addr */
	.long _edata		/* load_end_addr */
	.long _end		/* bss_end_addr */
	.long _start		/* entry_addr */
#endif
	.section .note.GNU-stack, "", @progbits
