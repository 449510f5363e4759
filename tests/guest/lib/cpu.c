/* Per-CPU descriptor tables, the interrupt dispatcher, the ring-3 request
 * path, and the C side of boot. */
#include "internal.h"

struct tss {
	u32 reserved0;
	u64 rsp[3];
	u64 reserved1;
	u64 ist[7];
	u64 reserved2;
	u16 reserved3;
	u16 iomap_base;
} __attribute__((packed));
_Static_assert(sizeof(struct tss) == 104,
	       "64-bit TSS is 104 bytes (SDM vol. 3, 8.7)");

struct idt_gate {
	u16 offset_low, selector;
	u8 ist, type;
	u16 offset_mid;
	u32 offset_high, reserved;
} __attribute__((packed));

extern char isr_stubs[];
extern u64 gdt_tss[];
extern char user_resume[];
extern u64 user_enter(u64 (*fn)(u64), u64 arg, u64 stack_top, void *rsp0_slot);

static
    __attribute__((section(".bss.big"), aligned(16))) struct tss tss[MAX_CPUS];
static __attribute__((section(".bss.big"),
		      aligned(4096))) struct idt_gate idt[256];
static __attribute__((section(".bss.big"),
		      aligned(4096))) char dfstacks[MAX_CPUS][DFSTACK_SIZE];
static __attribute__((section(".bss.big"),
		      aligned(4096))) char ustacks[MAX_CPUS][USTACK_SIZE];
static irq_handler_t handlers[256];

static const char *const exception_names[32] = {
    "#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "CSO", "#TS",
    "#NP", "#SS", "#GP", "#PF", "?",   "#MF", "#AC", "#MC", "#XM", "#VE", "#CP",
    "?",   "?",	  "?",	 "?",	"?",   "?",   "#HV", "#VC", "#SX", "?",
};

unsigned cpu_index(void)
{
	u64 sp = (u64)__builtin_frame_address(0);

	if (sp >= (u64)kstacks && sp < (u64)kstacks + MAX_CPUS * KSTACK_SIZE)
		return (sp - (u64)kstacks) / KSTACK_SIZE;
	if (sp >= (u64)ustacks && sp < (u64)ustacks + sizeof(ustacks))
		return (sp - (u64)ustacks) / USTACK_SIZE;
	if (sp >= (u64)dfstacks && sp < (u64)dfstacks + sizeof(dfstacks))
		return (sp - (u64)dfstacks) / DFSTACK_SIZE;
	return 0;
}

/* RSP0 sits at offset 4, unaligned by architecture: handed out as bytes. */
void *cpu_rsp0_slot(unsigned index)
{
	return (char *)&tss[index] + offsetof(struct tss, rsp);
}

static void idt_build(void)
{
	for (unsigned v = 0; v < 256; v++) {
		u64 addr = (u64)isr_stubs + v * 16;
		idt[v].offset_low = (u16)addr;
		idt[v].selector = SEL_KCODE;
		idt[v].ist = v == 8 ? 1 : 0; /* #DF on its own stack */
		idt[v].type = 0x8E; /* present, DPL 0, 64-bit interrupt gate */
		idt[v].offset_mid = (u16)(addr >> 16);
		idt[v].offset_high = (u32)(addr >> 32);
		idt[v].reserved = 0;
	}
}

void cpu_setup(unsigned index)
{
	struct tss *t = &tss[index];
	u64 base = (u64)t;
	u64 limit = sizeof(*t) - 1;
	struct {
		u16 limit;
		u64 base;
	} __attribute__((packed)) idtr = {sizeof(idt) - 1, (u64)idt};

	memset(t, 0, sizeof(*t));
	t->rsp[0] = (u64)kstacks + (index + 1) * KSTACK_SIZE;
	t->ist[0] = (u64)dfstacks[index] + DFSTACK_SIZE;
	t->iomap_base = sizeof(*t); /* no I/O bitmap: IOPL alone decides */
	/* 16-byte system descriptor, type 9 = available 64-bit TSS */
	gdt_tss[index * 2] = (limit & 0xffff) | ((base & 0xffffff) << 16) |
			     (0x89ull << 40) | ((limit >> 16) << 48) |
			     (((base >> 24) & 0xff) << 56);
	gdt_tss[index * 2 + 1] = base >> 32;
	__asm__ volatile("ltr %w0" : : "r"(SEL_TSS0 + index * 16));
	__asm__ volatile("lidt %0" : : "m"(idtr));
}

void irq_register(u8 vector, irq_handler_t fn)
{
	handlers[vector] = fn;
}

static __attribute__((noreturn)) void irq_fatal(struct irq_frame *f,
						const char *why)
{
	u64 cr2;

	__asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
	console_fatal("EXCEPTION: %s vector %lu (%s) error %#lx rip %#lx cs "
		      "%#lx rsp %#lx cr2 %#lx cpu %u\n",
		      why, f->vector,
		      f->vector < 32 ? exception_names[f->vector] : "irq",
		      f->error, f->rip, f->cs, f->rsp, cr2, cpu_index());
	outl(0xf4, GUEST_EXIT_EXCEPTION);
	halt_forever();
}

static bool is_user_ud2(const struct irq_frame *f)
{
	return f->vector == 6 && (f->cs & 3) == 3 &&
	       f->rip < (1ull << 32) - 2 && ((const u8 *)f->rip)[0] == 0x0f &&
	       ((const u8 *)f->rip)[1] == 0x0b;
}

void irq_dispatch(struct irq_frame *f)
{
	if (f->vector < 32) {
		if (!is_user_ud2(f))
			irq_fatal(f, "unhandled");
		user_service(f);
		return;
	}
	if (f->vector == SPURIOUS_VECTOR)
		return; /* no EOI for spurious interrupts (SDM vol. 3, 11.9) */
	if (!handlers[f->vector])
		irq_fatal(f, "no handler for");
	handlers[f->vector](f);
	lapic_eoi();
}

/* Ring-3 requests: ud2 with RAX = op (layout.h).  Returns past the ud2. */
void user_service(struct irq_frame *f)
{
	u64 ret = 0;

	switch (f->rax) {
	case UREQ_PUTS:
		if (f->rsi > 4096 || f->rdi + f->rsi > (1ull << 32))
			irq_fatal(f, "bad UREQ_PUTS buffer at");
		console_write((const char *)f->rdi, f->rsi);
		ret = f->rsi;
		break;
	case UREQ_EXIT:
		exit_guest((u32)f->rdi);
	case UREQ_OUT:
		io_out((u16)f->rdi, (u32)f->rsi, (unsigned)f->rdx);
		break;
	case UREQ_IN:
		ret = io_in((u16)f->rdi, (unsigned)f->rdx);
		break;
	case UREQ_RETURN: {
		/* user_enter left its resume stack pointer in the word at
		 * TSS.RSP0, which is just above this frame. */
		u64 *resume_sp = (u64 *)(f + 1);
		f->rax = f->rdi;
		f->rip = (u64)user_resume;
		f->cs = SEL_KCODE;
		f->rsp = *resume_sp;
		f->ss = SEL_KDATA;
		f->rflags = 0x2;
		return;
	}
	case UREQ_HALT:
		irq_wait();
		break;
	default:
		irq_fatal(f, "unknown ring-3 request at");
	}
	f->rax = ret;
	f->rip += 2;
}

u64 run_user(u64 (*fn)(u64), u64 arg)
{
	unsigned i = cpu_index();

	return user_enter(fn, arg, (u64)ustacks[i] + USTACK_SIZE,
			  cpu_rsp0_slot(i));
}

void io_out(u16 port, u32 v, unsigned width)
{
	if (cpu_ring() != 0) {
		user_request(UREQ_OUT, port, v, width);
		return;
	}
	if (width == 1)
		outb(port, (u8)v);
	else if (width == 2)
		outw(port, (u16)v);
	else
		outl(port, v);
}

u32 io_in(u16 port, unsigned width)
{
	if (cpu_ring() != 0)
		return (u32)user_request(UREQ_IN, port, 0, width);
	if (width == 1)
		return inb(port);
	if (width == 2)
		return inw(port);
	return inl(port);
}

/* From entry.S on the BSP, in long mode on kstacks[0]. */
__attribute__((noreturn)) void guest_lib_start(void)
{
	/* .bss is kept small (big arrays are in .bss.big) so this is cheap */
	for (u64 *p = (u64 *)__bss_start; p < (u64 *)__bss_end; p++)
		*p = 0;
	idt_build();
	cpu_setup(0);
	serial_init();
	pic_disable();
	if (mb_magic != MB_BOOT_MAGIC)
		guest_fail("entered with EAX=%#x, not the Multiboot magic %#x",
			   mb_magic, MB_BOOT_MAGIC);
	mb_parse(mb_info_addr);
	exit_guest((u32)guest_main());
}
