/* ACPI S3, suspend to RAM, seen from the guest.  Fills memory, sleeps
 * through \_S3 and PM1a_CNT as an OS does (lib/acpi.c), and on the wake
 * checks that the CPU came back the way the ACPI specification says (reset,
 * interrupts off, in the mode of the waking vector it chose), that WAK_STS
 * and the wake source's status bit are set, that the RTC alarm did not
 * fire early, and that memory is intact.
 *
 * Command line:
 *   wake=rtc|host|button  rtc: an RTC alarm `secs` ahead with RTC_EN set;
 *                         host: hyvectl --wake; button: the power button
 *                         (hyvectl --powerdown), PWRBTN_EN left clear
 *   via=real|pm32|long64  the waking vector: Firmware_Waking_Vector (real
 *                         mode), or X_Firmware_Waking_Vector without or
 *                         with 64BIT_WAKE_F
 *   secs=N (2) mb=N (16) cycles=N (1)
 *   cpus=2                an AP counts in a loop from before the sleep; it
 *                         must be still after the wake (reset, waiting for
 *                         INIT-SIPI) until the BSP starts it again
 * Prints "sleep: entering S3 ..." just before each sleep (the tests wait
 * for it), "sleep: woke via ..." and "sleep: memory intact ..." after. */
#include "guest.h"

#define RTC_INDEX    0x70
#define RTC_DATA     0x71
#define RTC_SEC	     0x00
#define RTC_SEC_ALM  0x01
#define RTC_MIN	     0x02
#define RTC_MIN_ALM  0x03
#define RTC_HOUR     0x04
#define RTC_HOUR_ALM 0x05
#define RTC_A	     0x0a
#define RTC_B	     0x0b
#define RTC_C	     0x0c
#define RTC_A_UIP    0x80
#define RTC_B_AIE    0x20
#define RTC_B_BINARY 0x04
#define ALARM_ANY    0xc0

#define PM1_STS_PWRBTN 0x0100
#define PM1_STS_RTC    0x0400
#define PM1_STS_WAK    0x8000
#define PM1_EN_RTC     0x0400
#define EFLAGS_IF      0x200
#define CR0_PE	       0x1
#define CR0_PG	       0x80000000u
#define EFER_LMA       0x400

static u8 rtc_get(u8 reg)
{
	outb(RTC_INDEX, reg);
	return inb(RTC_DATA);
}

static void rtc_set(u8 reg, u8 v)
{
	outb(RTC_INDEX, reg);
	outb(RTC_DATA, v);
}

static bool rtc_bcd(void)
{
	return !(rtc_get(RTC_B) & RTC_B_BINARY);
}

static unsigned from_rtc(u8 v)
{
	return rtc_bcd() ? (v >> 4) * 10 + (v & 15) : v;
}

static u8 to_rtc(unsigned v)
{
	return rtc_bcd() ? (u8)((v / 10) << 4 | v % 10) : (u8)v;
}

/* Seconds into the day, read outside an update cycle (24-hour mode). */
static unsigned rtc_seconds(void)
{
	while (rtc_get(RTC_A) & RTC_A_UIP)
		cpu_relax();
	return from_rtc(rtc_get(RTC_HOUR)) * 3600 +
	       from_rtc(rtc_get(RTC_MIN)) * 60 + from_rtc(rtc_get(RTC_SEC));
}

/* An alarm `secs` (< 60) from now: minute and second, any hour. */
static void rtc_alarm_in(unsigned now, unsigned secs)
{
	unsigned t = (now + secs) % 3600;

	rtc_set(RTC_B, rtc_get(RTC_B) & ~RTC_B_AIE);
	rtc_set(RTC_SEC_ALM, to_rtc(t % 60));
	rtc_set(RTC_MIN_ALM, to_rtc(t / 60));
	rtc_set(RTC_HOUR_ALM, ALARM_ANY);
	rtc_get(RTC_C); /* clear old flags */
	rtc_set(RTC_B, rtc_get(RTC_B) | RTC_B_AIE);
}

struct pattern {
	u64 *p;
	u64 words, seed;
};

static u64 pattern_fill(u64 arg)
{
	struct pattern *f = (struct pattern *)arg;
	u64 x = f->seed;

	for (u64 i = 0; i < f->words; i++) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		f->p[i] = x ^ i;
	}
	return x;
}

static u64 pattern_sum(u64 arg)
{
	const struct pattern *f = (const struct pattern *)arg;
	u64 h = 0xcbf29ce484222325ull;

	for (u64 i = 0; i < f->words; i++)
		h = (h ^ f->p[i]) * 0x100000001b3ull;
	return h;
}

static volatile u64 ap_count;

static void ap_spin(unsigned index)
{
	(void)index;
	for (;;) {
		__atomic_add_fetch(&ap_count, 1, __ATOMIC_RELAXED);
		cpu_relax();
	}
}

/* The AP after a wake: still (reset), until INIT-SIPI starts it again. */
static void check_ap_restarts(unsigned *booted)
{
	u64 before = ap_count;

	tsc_delay_us(200000);
	if (ap_count != before)
		guest_fail("the AP runs on after the wake (count %lu -> %lu): "
			   "not reset",
			   before, ap_count);
	*booted += 1;
	if (smp_boot(*booted, ap_spin, 2000) != *booted)
		guest_fail("the AP did not answer INIT-SIPI after the wake");
	before = ap_count;
	tsc_delay_us(50000);
	if (ap_count == before)
		guest_fail("the restarted AP does not count");
	gprintf("sleep: AP was reset and restarted\n");
}

static const char *via_name(enum s3_vector via)
{
	return via == S3_VIA_REAL   ? "real"
	       : via == S3_VIA_PM32 ? "pm32"
	       : via == S3_VIA_LONG64 ? "long64"
				      : "?";
}

/* The CPU state on arrival, against ACPI 6.4 table 5.14. */
static void check_entry(enum s3_vector via, const struct s3_entry *e)
{
	if (e->via != via)
		guest_fail("came back via %s, asked for %s", via_name(e->via),
			   via_name(via));
	if (e->eflags & EFLAGS_IF)
		guest_fail("interrupts enabled at the waking vector "
			   "(EFLAGS %#x)",
			   e->eflags);
	if (via == S3_VIA_REAL &&
	    (e->cs != WAKE_TRAMPOLINE_ADDR >> 4 || (e->cr0 & CR0_PE)))
		guest_fail("real-mode vector entered with CS %#x (want %#x), "
			   "CR0 %#x",
			   e->cs, WAKE_TRAMPOLINE_ADDR >> 4, e->cr0);
	if (via == S3_VIA_PM32 && (!(e->cr0 & CR0_PE) || (e->cr0 & CR0_PG)))
		guest_fail("protected-mode vector entered with CR0 %#x",
			   e->cr0);
	if (via == S3_VIA_LONG64 &&
	    (!(e->cr0 & CR0_PG) || !(e->efer & EFER_LMA)))
		guest_fail("64-bit vector entered with CR0 %#x EFER %#x",
			   e->cr0, e->efer);
}

static enum s3_vector parse_via(void)
{
	char v[16];

	if (!mb_arg("via", v, sizeof(v)) || !strcmp(v, "real"))
		return S3_VIA_REAL;
	if (!strcmp(v, "pm32"))
		return S3_VIA_PM32;
	if (!strcmp(v, "long64"))
		return S3_VIA_LONG64;
	guest_fail("via=%s: expected real, pm32 or long64", v);
}

int guest_main(void)
{
	char wake[16] = "rtc";
	enum s3_vector via = parse_via();
	u64 secs = mb_arg_u64("secs", 2), mib = mb_arg_u64("mb", 16);
	u64 cycles = mb_arg_u64("cycles", 1), cpus = mb_arg_u64("cpus", 1);
	unsigned booted = 2;
	struct acpi_pm pm;
	struct pattern f;
	struct s3_entry e;

	mb_arg("wake", wake, sizeof(wake));
	if (strcmp(wake, "rtc") && strcmp(wake, "host") &&
	    strcmp(wake, "button"))
		guest_fail("wake=%s: expected rtc, host or button", wake);
	if (secs < 1 || secs > 50)
		guest_fail("secs=%lu: 1 to 50", secs);
	if (!acpi_pm_find(&pm))
		guest_fail("no ACPI PM blocks");
	f.words = (mib << 20) / 8;
	f.p = (u64 *)mb_find_ram(mib << 20, 1 << 21);
	if (!f.p)
		guest_fail("no %lu MiB of RAM for the pattern", mib);
	if (cpus == 2 && smp_boot(2, ap_spin, 2000) != 2)
		guest_fail("the AP did not start");
	for (u64 c = 1; c <= cycles; c++) {
		unsigned before, after, elapsed;
		u64 sum;
		u16 sts, want;

		f.seed = c * 0x9e3779b97f4a7c15ull;
		run_user(pattern_fill, (u64)&f);
		sum = run_user(pattern_sum, (u64)&f);
		before = rtc_seconds();
		if (!strcmp(wake, "rtc")) {
			rtc_alarm_in(before, (unsigned)secs);
			outw(pm.pm1a_evt + 2, PM1_EN_RTC);
		} else {
			rtc_set(RTC_B, rtc_get(RTC_B) & ~RTC_B_AIE);
			outw(pm.pm1a_evt + 2, 0);
		}
		gprintf("sleep: entering S3 via %s, wake %s (cycle %lu)\n",
			via_name(via), wake, c);
		acpi_s3_suspend(via, &e);
		after = rtc_seconds();
		elapsed = (after + 86400 - before) % 86400;
		sts = inw(pm.pm1a_evt);
		check_entry(via, &e);
		want = PM1_STS_WAK | (!strcmp(wake, "rtc")      ? PM1_STS_RTC
				      : !strcmp(wake, "button") ? PM1_STS_PWRBTN
								: 0);
		if ((sts & (PM1_STS_WAK | PM1_STS_RTC | PM1_STS_PWRBTN)) != want)
			guest_fail("PM1_STS %#x after the wake, expected %#x",
				   sts, want);
		if (!strcmp(wake, "rtc") && elapsed < secs)
			guest_fail("woke %us after the sleep began, before the "
				   "RTC alarm %lus ahead",
				   elapsed, secs);
		gprintf("sleep: woke via %s: PM1_STS %#x, RTC +%us\n",
			via_name(e.via), sts, elapsed);
		if (run_user(pattern_sum, (u64)&f) != sum)
			guest_fail("memory changed across S3 (%lu MiB at %p)",
				   mib, f.p);
		gprintf("sleep: memory intact: %lu MiB, checksum %#lx\n", mib,
			sum);
		if (cpus == 2)
			check_ap_restarts(&booted);
		outw(pm.pm1a_evt, sts); /* write 1 to clear */
		outw(pm.pm1a_evt + 2, 0);
	}
	return GUEST_EXIT_PASS;
}
