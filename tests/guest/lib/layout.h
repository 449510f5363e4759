/* Constants shared by the guest library's assembly and C code. */
#ifndef GUEST_LAYOUT_H
#define GUEST_LAYOUT_H

#define MAX_CPUS 64

/* GDT selectors (see the gdt table in entry.S). */
#define SEL_KCODE   0x08
#define SEL_KDATA   0x10
#define SEL_KCODE32 0x18
#define SEL_UDATA   (0x28 | 3)
#define SEL_UCODE   (0x30 | 3)
#define SEL_TSS0    0x40 /* then one 16-byte descriptor per CPU */

#define KSTACK_SIZE 0x4000 /* ring-0 stack per CPU */
#define DFSTACK_SIZE                                                           \
	0x1000 /* #DF runs on IST1 so a broken stack still reports */
#define USTACK_SIZE 0x10000 /* ring-3 stack per CPU */

/* The AP trampoline is copied here; the SIPI vector is its page number. */
#define AP_TRAMPOLINE_ADDR 0x8000
/* The ACPI S3 real-mode waking vector (lib/wake.S) is copied here. */
#define WAKE_TRAMPOLINE_ADDR 0x7000

/* ring 3 -> ring 0 requests: ud2 with RAX = op, RDI/RSI/RDX = arguments. */
#define UREQ_PUTS   1 /* rdi = string, rsi = length */
#define UREQ_EXIT   2 /* rdi = debug-exit value */
#define UREQ_OUT    3 /* rdi = port, rsi = value, rdx = width 1/2/4 */
#define UREQ_IN	    4 /* rdi = port, rdx = width; returns the value */
#define UREQ_RETURN 5 /* rdi = run_user's return value */
#define UREQ_HALT   6 /* sti; hlt once in ring 0: wait for an interrupt */

/* debug-exit values this library uses (hyve status = (V << 1) | 1) */
#define GUEST_EXIT_PASS	     0x00 /* status 1 */
#define GUEST_EXIT_FAIL	     0x20 /* status 65 */
#define GUEST_EXIT_EXCEPTION 0x21 /* status 67 */

#endif
