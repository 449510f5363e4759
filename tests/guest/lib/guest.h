/* The freestanding library for hyve's Multiboot test guests.
 *
 * A guest defines `int guest_main(void)`; the library has by then switched
 * to long mode (identity-mapped first 4 GiB), loaded GDT/TSS/IDT, set up
 * COM1 and checked the Multiboot magic.  guest_main's return value goes to
 * exit_guest().  Guest ring 0 is emulated slowly on the test host: keep
 * ring-0 work small and run heavy loops in ring 3 with run_user(). */
#ifndef GUEST_H
#define GUEST_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "layout.h"

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;

/* What isr_common saves; handlers may change it (it is restored by iretq). */
struct irq_frame {
	u64 r15, r14, r13, r12, r11, r10, r9, r8, rbp, rdi, rsi, rdx, rcx, rbx,
	    rax;
	u64 vector, error;
	u64 rip, cs, rflags, rsp, ss;
};

int guest_main(void);

/* ---- port I/O and CPU primitives (ring 0 only, except cpuid/rdtsc/pause) */
static inline void outb(u16 port, u8 v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}
static inline void outw(u16 port, u16 v)
{
	__asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port));
}
static inline void outl(u16 port, u32 v)
{
	__asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}
static inline u8 inb(u16 port)
{
	u8 v;
	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}
static inline u16 inw(u16 port)
{
	u16 v;
	__asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}
static inline u32 inl(u16 port)
{
	u32 v;
	__asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}
static inline void cpu_relax(void)
{
	__asm__ volatile("pause" ::: "memory");
}
static inline void irq_enable(void)
{
	__asm__ volatile("sti" ::: "memory");
}
static inline void irq_disable(void)
{
	__asm__ volatile("cli" ::: "memory");
}
/* Waits for one interrupt; sti's one-instruction shadow closes the race. */
static inline void irq_wait(void)
{
	__asm__ volatile("sti; hlt; cli" ::: "memory");
}
static inline u64 rdtsc(void)
{
	u32 lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((u64)hi << 32) | lo;
}
static inline u64 rdmsr(u32 msr)
{
	u32 lo, hi;
	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return ((u64)hi << 32) | lo;
}
static inline void wrmsr(u32 msr, u64 v)
{
	__asm__ volatile("wrmsr"
			 :
			 : "c"(msr), "a"((u32)v), "d"((u32)(v >> 32)));
}
static inline void cpuid(u32 leaf, u32 sub, u32 r[4])
{
	__asm__ volatile("cpuid"
			 : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
			 : "a"(leaf), "c"(sub));
}
static inline unsigned cpu_ring(void)
{
	u16 cs;
	__asm__ volatile("mov %%cs, %0" : "=r"(cs));
	return cs & 3;
}
static inline u32 mmio_read32(u64 addr)
{
	return *(volatile u32 *)addr;
}
static inline void mmio_write32(u64 addr, u32 v)
{
	*(volatile u32 *)addr = v;
}

/* ---- console (COM1, polled) and exit; all usable from ring 0 and ring 3 */
void serial_init(void);
void serial_putc(char c); /* ring 0 only */
void console_write(const char *s, size_t len);
void gputs(const char *s);
void gprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int gvsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int gsnprintf(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* outl(0xf4, v): hyve --debug-exit ends with status (v << 1) | 1.  Without
 * the debug-exit device the CPU halts with interrupts off (status 2). */
__attribute__((noreturn)) void exit_guest(u32 v);
/* Prints "FAIL: guest: <message>" and exits with GUEST_EXIT_FAIL. */
__attribute__((noreturn, format(printf, 1, 2))) void guest_fail(const char *fmt,
								...);

/* ---- strings (the compiler may also emit calls to these) */
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);

/* ---- Multiboot information (flags checked; NULL/0 when absent) */
const char *mb_cmdline(void);
/* Value of "key=value" in the command line, copied to buf; false if absent. */
bool mb_arg(const char *key, char *buf, size_t size);
u64 mb_arg_u64(const char *key, u64 fallback);
u32 mb_mem_lower_kb(void);
u32 mb_mem_upper_kb(void);
/* Memory map entries: returns false past the end. */
bool mb_mmap_entry(unsigned i, u64 *base, u64 *len, u32 *type);
unsigned mb_module_count(void);
bool mb_module(unsigned i, u64 *start, u64 *end, const char **cmdline);
/* First address above the image, the info structures and all modules. */
u64 mb_free_start(void);
/* A RAM range [>= mb_free_start, +size) that the memory map says is usable. */
u64 mb_find_ram(u64 size, u64 align);

/* ---- CPUs, interrupts */
typedef void (*irq_handler_t)(struct irq_frame *f);
/* External vectors (32..254); the library sends the LAPIC EOI after it. */
void irq_register(u8 vector, irq_handler_t fn);
/* The calling CPU's index (0 = BSP), from which kernel stack it runs on. */
unsigned cpu_index(void);
void cpu_setup(unsigned index); /* GDT, TSS, IDT for one CPU */

/* ---- LAPIC (xAPIC MMIO), IOAPIC, 8259 PIC, TSC */
#define LAPIC_BASE	0xFEE00000ull
#define IOAPIC_BASE	0xFEC00000ull
#define SPURIOUS_VECTOR 0xFF
void lapic_enable(void);
u32 lapic_id(void);
void lapic_eoi(void);
/* ICR write; waits for the delivery-status bit to clear. */
void lapic_send_ipi(u32 dest_apic_id, u32 icr_low);
void ioapic_route(unsigned pin, u8 vector, u32 dest_apic_id, bool level,
		  bool active_low);
void ioapic_mask(unsigned pin);
unsigned ioapic_pins(void);
void pic_disable(void); /* remap to 0x20-0x2f and mask everything */
/* TSC kHz from PIT channel 2 over 10 ms (0 if port 0x61 does not show the
 * channel's output); tsc_khz() caches it, falling back to CPUID 0x40000010
 * and then to an assumed 3 GHz. */
u64 tsc_calibrate_pit(void);
u64 tsc_khz(void);
void tsc_delay_us(u64 us);

/* ---- SMP */
/* INIT-SIPI-SIPI to all other CPUs; each runs fn(index) on its own stack
 * after cpu_setup and lapic_enable.  Waits up to timeout_ms for `want` CPUs
 * in total (BSP included) and returns how many came up. */
unsigned smp_boot(unsigned want, void (*fn)(unsigned index), u64 timeout_ms);
unsigned smp_online(void);
u32 smp_apic_id(unsigned index);

/* ---- ACPI (lib/acpi.c, lib/wake.S) */
/* A table found through the RSDP with a good checksum, or NULL. */
const void *acpi_table(const char *sig);
struct acpi_pm {
	u16 pm1a_evt, pm1a_cnt; /* PM1 status (+2: enable), PM1 control */
	u8 *facs;
	int s3_slp_typ; /* SLP_TYPa of \_S3, -1 if the DSDT has none */
};
bool acpi_pm_find(struct acpi_pm *pm);
/* Which waking vector of the FACS brings the CPU back (the values are what
 * lib/wake.S reports in ESI). */
enum s3_vector {
	S3_VIA_REAL = 2,   /* Firmware_Waking_Vector, real mode */
	S3_VIA_PM32 = 3,   /* X_Firmware_Waking_Vector, protected mode */
	S3_VIA_LONG64 = 4, /* X_Firmware_Waking_Vector + 64BIT_WAKE_F */
};
/* How the CPU arrived at the waking vector. */
struct s3_entry {
	enum s3_vector via;
	u32 cs, eflags, cr0, efer; /* efer: long mode only */
};
/* Suspends to RAM (\_S3 with SLP_EN) and returns after the wake with this
 * CPU's GDT/TSS/IDT, COM1 and the PIC set up again.  Fails the test if the
 * machine lets the CPU run on (or shows WAK_STS without resetting it). */
void acpi_s3_suspend(enum s3_vector via, struct s3_entry *entry);

/* ---- ring 3 */
/* Runs fn(arg) in ring 3 with IOPL = 3 on this CPU's user stack; returns
 * fn's result.  Interrupt flag as the caller's. */
u64 run_user(u64 (*fn)(u64), u64 arg);
static inline u64 user_request(u64 op, u64 a, u64 b, u64 c)
{
	u64 ret;
	__asm__ volatile("ud2"
			 : "=a"(ret)
			 : "a"(op), "D"(a), "S"(b), "d"(c)
			 : "memory");
	return ret;
}
/* Port I/O that works in either ring (ring 3 goes through ud2). */
void io_out(u16 port, u32 v, unsigned width);
u32 io_in(u16 port, unsigned width);

/* ---- small spinlock (xchg), ring 0 or 3 */
typedef struct {
	volatile u32 v;
} spinlock_t;
static inline void spin_lock(spinlock_t *l)
{
	while (__atomic_exchange_n(&l->v, 1, __ATOMIC_ACQUIRE))
		while (l->v)
			cpu_relax();
}
static inline void spin_unlock(spinlock_t *l)
{
	__atomic_store_n(&l->v, 0, __ATOMIC_RELEASE);
}

#endif
