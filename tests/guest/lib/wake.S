/* ACPI S3: the CPU side of suspend and resume (lib/acpi.c drives it).
 *
 * s3_enter saves the callee-saved registers and the stack pointer, then
 * writes SLP_TYP|SLP_EN to PM1a_CNT.  On hardware that write never
 * returns; under a VMM the CPU may run on for a moment until it is stopped,
 * so s3_enter returns 0 and the caller waits.  The CPU comes back reset,
 * at one of the three waking vectors below (ACPI 6.4, table 5.14), climbs
 * to long mode on this guest's GDT and page tables, and s3_enter returns
 * 1 on the saved stack, like a second return from setjmp.
 *
 * Each way in records what the CPU looked like on arrival, for the test to
 * check that the VMM entered it as the ACPI specification says:
 * EBX = CS, EDI = EFLAGS, EBP = CR0, EDX = EFER (long mode only),
 * ESI = which vector (2 real mode, 3 protected mode, 4 long mode). */
#include "layout.h"

#define CR0_PE 0x00000001
#define MSR_EFER 0xC0000080

	.text
	.code64
/* int s3_enter(u16 port, u16 value) */
	.globl s3_enter
s3_enter:
	pushq %rbx
	pushq %rbp
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	movq %rsp, s3_saved_rsp(%rip)
	movl %esi, %eax
	movl %edi, %edx
	outw %ax, %dx
	xorl %eax, %eax
	jmp s3_return

/* From entry64 (ESI 2 or 3) or wake_entry_long64 (ESI 4): long mode on
 * this guest's GDT and page tables. */
	.globl s3_wake64
s3_wake64:
	movw $SEL_KDATA, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	xorl %eax, %eax
	movw %ax, %fs
	movw %ax, %gs
	movq s3_saved_rsp(%rip), %rsp
	movl %esi, s3_entry_mode(%rip)
	movl %ebx, s3_entry_cs(%rip)
	movl %edi, s3_entry_eflags(%rip)
	movl %ebp, s3_entry_cr0(%rip)
	movl %edx, s3_entry_efer(%rip)
	movl $1, %eax
s3_return:
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %rbp
	popq %rbx
	ret

/* X_Firmware_Waking_Vector with 64BIT_WAKE_F: long mode on the
 * firmware's GDT and identity map, RSP undefined. */
	.globl wake_entry_long64
wake_entry_long64:
	movq s3_saved_rsp(%rip), %rsp	/* RSP is undefined: take ours */
	pushfq				/* EFLAGS as the firmware left it */
	popq %rdi
	cli
	movw %cs, %bx
	movzwl %bx, %ebx
	movq %cr0, %rbp
	movl $MSR_EFER, %ecx
	rdmsr
	movl %eax, %edx
	movl $4, %esi
	lgdt gdt_ptr(%rip)
	leaq pml4(%rip), %rax
	movq %rax, %cr3
	pushq $SEL_KCODE
	leaq s3_wake64(%rip), %rax
	pushq %rax
	lretq

/* X_Firmware_Waking_Vector without 64BIT_WAKE_F: flat 32-bit protected
 * mode on the firmware's GDT, paging off. */
	.code32
	.globl wake_entry_pm32
wake_entry_pm32:
	movl s3_saved_rsp, %esp		/* ESP is undefined: take ours */
	pushfl				/* EFLAGS as the firmware left it */
	popl %edi
	cli
	movw %cs, %bx
	movzwl %bx, %ebx
	movl %cr0, %ebp
	xorl %edx, %edx
	lgdt gdt_ptr
	ljmp $SEL_KCODE32, $wake_entry32_pm
wake_entry32_pm:
	movl $3, %esi
	jmp long_mode_enter

/* Firmware_Waking_Vector: real mode, CS:IP = vector >> 4 : vector & 0xF.
 * Copied below 1 MiB at a 16-byte boundary (IP = 0); position independent
 * until the far jump, like the AP trampoline. */
	.code16
	.globl wake_trampoline_start, wake_trampoline_end
wake_trampoline_start:
	movw %cs, %bx			/* a stack at the top of this page */
	movw %bx, %ss
	movl $0x1000, %esp
	pushfl				/* EFLAGS as the firmware left it */
	popl %edi
	cli
	cld
	movzwl %bx, %ebx
	movl %cr0, %ebp
	xorl %edx, %edx
	movw %cs, %ax
	movw %ax, %ds
	lgdtl wake_trampoline_gdtr - wake_trampoline_start
	movl %cr0, %eax
	orl $CR0_PE, %eax
	movl %eax, %cr0
	ljmpl $SEL_KCODE32, $wake_entry32
	.align 8
	.globl wake_trampoline_gdtr
wake_trampoline_gdtr:		/* lib/acpi.c copies gdt_ptr's first 6 bytes */
	.word 0
	.long 0
wake_trampoline_end:

	.data
	.align 8
	.globl s3_saved_rsp, s3_entry_mode, s3_entry_cs, s3_entry_eflags
	.globl s3_entry_cr0, s3_entry_efer
s3_saved_rsp:	.quad 0
s3_entry_mode:	.long 0
s3_entry_cs:	.long 0
s3_entry_eflags: .long 0
s3_entry_cr0:	.long 0
s3_entry_efer:	.long 0

	.section .note.GNU-stack, "", @progbits
