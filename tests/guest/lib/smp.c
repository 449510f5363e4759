/* AP bring-up: INIT-SIPI-SIPI (SDM vol. 3, 9.4.4.1) broadcast to all other
 * CPUs.  Each AP runs the real-mode trampoline copied below 1 MiB, joins
 * the BSP's long-mode path in entry.S, takes the next CPU index and stack,
 * and lands in smp_ap_start. */
#include "internal.h"

#define ICR_INIT	 0x00000500
#define ICR_STARTUP	 0x00000600
#define ICR_LEVEL_ASSERT 0x00004000
#define ICR_ALL_BUT_SELF 0x000C0000

extern char ap_trampoline_start[], ap_trampoline_end[];

static void (*volatile ap_fn)(unsigned index);
static volatile u32 online = 1;
static u32 apic_ids[MAX_CPUS];

__attribute__((noreturn)) void smp_ap_start(unsigned index)
{
	cpu_setup(index);
	lapic_enable();
	apic_ids[index] = lapic_id();
	__atomic_add_fetch(&online, 1, __ATOMIC_SEQ_CST);
	if (ap_fn) /* set before the INIT IPI went out */
		ap_fn(index);
	halt_forever();
}

/* The trampoline page must not hold a module; modules usually load high. */
static bool page_is_free(u64 addr)
{
	for (unsigned i = 0; i < mb_module_count(); i++) {
		u64 start, end;
		const char *cmd;
		mb_module(i, &start, &end, &cmd);
		if (start < addr + 0x1000 && end > addr)
			return false;
	}
	return true;
}

unsigned smp_boot(unsigned want, void (*fn)(unsigned index), u64 timeout_ms)
{
	u32 vector = AP_TRAMPOLINE_ADDR >> 12;

	if (want > MAX_CPUS)
		want = MAX_CPUS;
	if (!page_is_free(AP_TRAMPOLINE_ADDR))
		guest_fail("a module overlaps the AP trampoline page %#x",
			   AP_TRAMPOLINE_ADDR);
	lapic_enable();
	apic_ids[0] = lapic_id();
	ap_fn = fn;
	memcpy((void *)AP_TRAMPOLINE_ADDR, ap_trampoline_start,
	       ap_trampoline_end - ap_trampoline_start);
	u64 khz = tsc_khz();
	lapic_send_ipi(0, ICR_ALL_BUT_SELF | ICR_LEVEL_ASSERT | ICR_INIT);
	tsc_delay_us(10000);
	lapic_send_ipi(0, ICR_ALL_BUT_SELF | ICR_LEVEL_ASSERT | ICR_STARTUP |
			      vector);
	tsc_delay_us(200);
	lapic_send_ipi(0, ICR_ALL_BUT_SELF | ICR_LEVEL_ASSERT | ICR_STARTUP |
			      vector);
	u64 deadline = rdtsc() + timeout_ms * khz;
	while (online < want && rdtsc() < deadline)
		cpu_relax();
	return online;
}

unsigned smp_online(void)
{
	return online;
}

u32 smp_apic_id(unsigned index)
{
	return index < MAX_CPUS ? apic_ids[index] : ~0u;
}
