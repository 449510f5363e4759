/* Interrupt entry stubs and the ring-0 <-> ring-3 switch.
 *
 * Every vector has a 16-byte stub that pushes a zero error code when the CPU
 * does not push one (SDM vol. 3, table 6-1), then the vector number, and
 * joins isr_common, which saves the general registers as a struct
 * irq_frame (guest.h) and calls irq_dispatch(frame). */
#include "layout.h"

	.text
	.align 16
	.globl isr_stubs
isr_stubs:
	.set vec, 0
	.rept 256
	.align 16
	.if (vec == 8) || (vec >= 10 && vec <= 14) || (vec == 17) || (vec == 21) || (vec == 29) || (vec == 30)
	.else
	pushq $0
	.endif
	pushq $vec
	jmp isr_common
	.set vec, vec + 1
	.endr

isr_common:
	cld
	pushq %rax
	pushq %rbx
	pushq %rcx
	pushq %rdx
	pushq %rsi
	pushq %rdi
	pushq %rbp
	pushq %r8
	pushq %r9
	pushq %r10
	pushq %r11
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	movq %rsp, %rdi
	call irq_dispatch
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %r11
	popq %r10
	popq %r9
	popq %r8
	popq %rbp
	popq %rdi
	popq %rsi
	popq %rdx
	popq %rcx
	popq %rbx
	popq %rax
	addq $16, %rsp
	iretq

/* u64 user_enter(fn, arg, user_stack_top, u64 *rsp0_slot)
 *
 * Saves the callee-saved registers, points this CPU's TSS.RSP0 just below
 * them (so every ring-3 -> ring-0 entry lands at a known place and never
 * overwrites this frame), and irets to ring 3 with IOPL = 3.  The ring-3 side
 * ends with UREQ_RETURN; irq_dispatch then rewrites the frame to iret back to
 * user_resume with the saved stack pointer, which sits at RSP0. */
	.globl user_enter
user_enter:
	pushq %rbx
	pushq %rbp
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	pushfq
	movq %rsp, %rax			/* resume stack pointer */
	subq $8, %rsp
	andq $-16, %rsp
	movq %rax, (%rsp)		/* the word at RSP0 */
	movq %rsp, (%rcx)		/* TSS.RSP0 */
	pushq $SEL_UDATA		/* SS */
	pushq %rdx			/* RSP */
	pushfq
	orq $0x3000, (%rsp)		/* RFLAGS.IOPL = 3 */
	pushq $SEL_UCODE		/* CS */
	leaq user_trampoline(%rip), %rax
	pushq %rax			/* RIP */
	movq %rdi, %rax
	movq %rsi, %rdi
	xorl %esi, %esi
	xorl %edx, %edx
	xorl %ecx, %ecx
	xorl %ebx, %ebx
	xorl %ebp, %ebp
	iretq

	.globl user_resume
user_resume:
	popfq
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %rbp
	popq %rbx
	ret

/* Ring 3: call fn(arg), then hand its result to ring 0. */
user_trampoline:
	call *%rax
	movq %rax, %rdi
	movl $UREQ_RETURN, %eax
	ud2
	jmp user_trampoline		/* not reached */

	.section .note.GNU-stack, "", @progbits
