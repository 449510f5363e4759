/* SMP bring-up.  cpus=N on the command line says how many CPUs to expect
 * (default: CPUID.1:EBX[23:16]); wait_ms=T bounds the wait for them to come
 * up (5000), report_ms=R the wait for their reports after that (2000).  Every AP
 * reports its index and APIC ID, and checks that the ID its LAPIC holds matches
 * the one CPUID gives (the VMM sets per-vCPU APIC IDs in both).  Passes when
 * exactly N CPUs with distinct APIC IDs came up. */
#include "guest.h"

static u32 cpuid_apic_ids[MAX_CPUS];
static volatile u32 reported;

static u32 cpuid_initial_apic_id(void)
{
	u32 r[4];

	cpuid(1, 0, r);
	return r[1] >> 24;
}

static void ap_report(unsigned index)
{
	cpuid_apic_ids[index] = cpuid_initial_apic_id();
	gprintf("smp: cpu %u apic_id %u\n", index, smp_apic_id(index));
	__atomic_add_fetch(&reported, 1, __ATOMIC_SEQ_CST);
}

int guest_main(void)
{
	u32 r[4];

	cpuid(1, 0, r);
	unsigned want = (unsigned)mb_arg_u64("cpus", (r[1] >> 16) & 0xff);
	if (want < 1 || want > MAX_CPUS)
		guest_fail("cpus=%u is outside 1..%u", want, MAX_CPUS);

	u64 wait_ms = mb_arg_u64("wait_ms", 5000);
	unsigned up = want > 1 ? smp_boot(want, ap_report, wait_ms) : 1;
	if (want == 1)
		lapic_enable();
	cpuid_apic_ids[0] = cpuid_initial_apic_id();
	gprintf("smp: cpu 0 apic_id %u\n", lapic_id());
	/* give every AP that came up time to report, and an unexpected
	 * extra AP a moment to show itself */
	u64 end = rdtsc() + mb_arg_u64("report_ms", 2000) * tsc_khz();
	while (reported < smp_online() - 1 && rdtsc() < end)
		cpu_relax();
	tsc_delay_us(20000);
	up = smp_online();
	if (reported != up - 1)
		guest_fail("%u CPUs online but only %u APs reported", up,
			   reported);
	for (unsigned i = 0; i < up; i++) {
		u32 id = i ? smp_apic_id(i) : lapic_id();
		if (id != cpuid_apic_ids[i])
			guest_fail(
			    "cpu %u: LAPIC ID %u but CPUID initial APIC ID %u",
			    i, id, cpuid_apic_ids[i]);
		for (unsigned j = 0; j < i; j++)
			if ((j ? smp_apic_id(j) : lapic_id()) == id)
				guest_fail("cpu %u and cpu %u share APIC ID %u",
					   j, i, id);
	}
	gprintf("smp: %u of %u cpus online\n", up, want);
	if (up != want)
		guest_fail("expected %u CPUs, %u came up", want, up);
	return GUEST_EXIT_PASS;
}
