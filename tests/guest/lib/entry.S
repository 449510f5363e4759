/* Boot path: Multiboot 32-bit entry -> long mode -> C, and the AP
 * trampoline that brings each secondary CPU the same way.  Long-mode code
 * addresses memory RIP-relative, so a guest may be linked anywhere below
 * 4 GiB (guest-high.ld puts one above 2 GiB).
 *
 * Guest ring 0 is emulated one instruction at a time on this host, so the
 * page tables are built by the assembler (no loop at boot): 4 page
 * directories of 2 MiB pages identity-map the first 4 GiB.  Every level has
 * U/S set so ring-3 code can use any page; SMEP/SMAP stay off. */
#include "layout.h"

#define PTE_P 0x001
#define PTE_W 0x002
#define PTE_U 0x004
#define PTE_PWT 0x008
#define PTE_PCD 0x010
#define PTE_PS 0x080
#define MSR_EFER 0xC0000080
#define EFER_LME 0x100
#define CR0_PE 0x00000001
#define CR0_PG 0x80000000
#define CR0_CD_NW 0x60000000
#define CR4_PAE 0x20

	.section .text.entry, "ax"
	.code32
	.globl _start
_start:
	/* Multiboot spec 3.2: EAX = magic, EBX = info, flat 32-bit segments
	 * from a GDT we must not rely on, interrupts off, no stack. */
	cli
	cld
	movl %eax, mb_magic
	movl %ebx, mb_info_addr
	lgdt gdt_ptr
	ljmp $SEL_KCODE32, $1f
1:	xorl %esi, %esi			/* ESI = 0: the BSP */
	jmp long_mode_enter

	/* APs arrive here from the trampoline, already in protected mode. */
	.globl ap_entry32
ap_entry32:
	movl $1, %esi
	jmp long_mode_enter

	/* A CPU back from ACPI S3 arrives here (lib/wake.S), in protected
	 * mode on this GDT: ESI = 2 takes it to s3_wake64. */
	.globl wake_entry32
wake_entry32:
	movl $2, %esi

	.globl long_mode_enter
long_mode_enter:
	movw $SEL_KDATA, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	movw %ax, %fs
	movw %ax, %gs
	movl $pml4, %eax
	movl %eax, %cr3
	movl %cr4, %eax
	orl $CR4_PAE, %eax
	movl %eax, %cr4
	movl $MSR_EFER, %ecx
	rdmsr
	orl $EFER_LME, %eax
	wrmsr
	movl %cr0, %eax
	andl $~CR0_CD_NW, %eax		/* an AP starts with caches off */
	orl $(CR0_PG | CR0_PE), %eax
	movl %eax, %cr0
	ljmp $SEL_KCODE, $entry64

	.code64
entry64:
	xorl %eax, %eax
	movw %ax, %fs
	movw %ax, %gs
	cmpl $2, %esi			/* 2, 3: back from ACPI S3 */
	jae s3_wake64
	testl %esi, %esi
	jnz ap_entry64
	leaq (kstacks + KSTACK_SIZE)(%rip), %rsp
	xorl %ebp, %ebp
	call guest_lib_start		/* does not return */
	jmp halt_forever

ap_entry64:
	/* Each AP takes the next CPU index; its stack follows from it. */
	movl $1, %eax
	lock xaddl %eax, ap_next_index(%rip)
	cmpl $MAX_CPUS, %eax
	jae halt_forever
	movl %eax, %edi
	movl %eax, %ecx
	incl %ecx
	imull $KSTACK_SIZE, %ecx
	leaq kstacks(%rip), %rsp
	addq %rcx, %rsp
	xorl %ebp, %ebp
	call smp_ap_start		/* does not return */

	.globl halt_forever
halt_forever:
	cli
	hlt
	jmp halt_forever

/* Real-mode trampoline, copied to AP_TRAMPOLINE_ADDR; the SIPI starts each
 * AP at CS = AP_TRAMPOLINE_ADDR >> 4, IP = 0.  Only position-independent
 * references (offsets from its start) are used until the far jump. */
	.code16
	.globl ap_trampoline_start, ap_trampoline_end
ap_trampoline_start:
	cli
	cld
	movw %cs, %ax
	movw %ax, %ds
	lgdtl ap_trampoline_gdtr - ap_trampoline_start
	movl %cr0, %eax
	orl $CR0_PE, %eax
	movl %eax, %cr0
	ljmpl $SEL_KCODE32, $ap_entry32
	.align 8
ap_trampoline_gdtr:
	.word gdt_end - gdt - 1
	.long gdt
ap_trampoline_end:
	.code64

	.section .data.pagetables, "aw"
	.align 4096
	.globl pml4
pml4:
	.quad pdpt + (PTE_P | PTE_W | PTE_U)
	.fill 511, 8, 0
pdpt:
	.quad pd + 0x0000 + (PTE_P | PTE_W | PTE_U)
	.quad pd + 0x1000 + (PTE_P | PTE_W | PTE_U)
	.quad pd + 0x2000 + (PTE_P | PTE_W | PTE_U)
	.quad pd + 0x3000 + (PTE_P | PTE_W | PTE_U)
	.fill 508, 8, 0
pd:
	/* 2048 x 2 MiB; the 3-4 GiB MMIO hole (LAPIC, IOAPIC) uncached. */
	.set pde_index, 0
	.rept 2048
	.if pde_index >= 1536
	.quad (pde_index << 21) | (PTE_P | PTE_W | PTE_U | PTE_PS | PTE_PCD | PTE_PWT)
	.else
	.quad (pde_index << 21) | (PTE_P | PTE_W | PTE_U | PTE_PS)
	.endif
	.set pde_index, pde_index + 1
	.endr

	.data
	.align 16
	.globl gdt, gdt_tss
gdt:
	.quad 0
	.quad 0x00AF9A000000FFFF	/* 0x08 ring-0 code, 64-bit */
	.quad 0x00CF92000000FFFF	/* 0x10 ring-0 data, flat */
	.quad 0x00CF9A000000FFFF	/* 0x18 ring-0 code, 32-bit flat */
	.quad 0x00CFFA000000FFFF	/* 0x20 ring-3 code, 32-bit (unused) */
	.quad 0x00CFF2000000FFFF	/* 0x28 ring-3 data */
	.quad 0x00AFFA000000FFFF	/* 0x30 ring-3 code, 64-bit */
	.quad 0
gdt_tss:
	.fill MAX_CPUS * 2, 8, 0	/* 0x40: a 16-byte TSS descriptor per CPU */
gdt_end:
	.align 8
	.globl gdt_ptr
gdt_ptr:
	.word gdt_end - gdt - 1
	.quad gdt

	.globl mb_magic, mb_info_addr, ap_next_index
mb_magic:	.long 0
mb_info_addr:	.long 0
ap_next_index:	.long 1

	.section .bss.big, "aw", @nobits
	.align 4096
	.globl kstacks
kstacks:
	.skip MAX_CPUS * KSTACK_SIZE

	.section .note.GNU-stack, "", @progbits
