/* The save/restore workload: proves a restored guest continues exactly where
 * it stopped.
 *
 * CPU 0 fills mb=N MiB with a position-dependent pattern (in ring 3), arms
 * the LAPIC timer in periodic mode (tick_ms=, default 50) and counts its
 * interrupts.  On every tick, in ring 3, it re-verifies one sixteenth of the
 * pattern, checks every other CPU's ring-3 counter advanced since the last
 * tick, checks that the guest clock advanced by a sane amount (at most
 * gap_ticks=, default 40, ticks' worth: a restored clock must not leap by
 * the time the snapshot sat on disk), and prints
 *   tick N cpus=C
 * Other CPUs (smp_boot, cpus=) spin counting in ring 3; with churn=M, CPU 1
 * instead rewrites M MiB after the pattern page by page, as fast as it can,
 * each pass with a new generation, checking that every page still holds the
 * previous pass's generation before rewriting it: a snapshot that missed
 * a page the guest wrote (a live checkpoint's last dirty pages) fails that
 * check after the restore.  After ticks=T ticks
 * it verifies the whole pattern and exits with GUEST_EXIT_PASS; any failure
 * prints "FAIL: guest: ..." and exits with GUEST_EXIT_FAIL. */
#include "guest.h"

typedef int8_t s8;

#define TIMER_VECTOR 0x40
#define LAPIC_LVT_TIMER 0x320
#define LAPIC_TIMER_INIT 0x380
#define LAPIC_TIMER_DIV 0x3e0
#define LVT_PERIODIC (1u << 17)
#define MSR_KVM_SYSTEM_TIME_NEW 0x4b564d01

/* The guest clock: clock=kvm (default) reads kvmclock, the pvclock page KVM
 * keeps for CPU 0, as Linux does; clock=tsc reads the raw TSC.  (On a
 * PVM-based host the TSC cannot be offset, so it always equals the host's:
 * use clock=tsc under real KVM, e.g. in the nested rig.) */
struct pvclock {
	volatile u32 version;
	u32 pad0;
	volatile u64 tsc_timestamp;
	volatile u64 system_time;
	volatile u32 tsc_to_system_mul;
	volatile s8 tsc_shift;
	volatile u8 flags;
	u8 pad[2];
} __attribute__((packed, aligned(64)));

static struct pvclock pvclock;
static bool clock_is_tsc;

struct state {
	u64 *mem;
	u64 words;
	u64 tick;         /* ticks handled by the ring-3 loop */
	u64 tick_ns;      /* expected guest-clock time per tick */
	u64 gap_ticks;    /* the most ticks' worth the clock may move at once */
	u64 last_ns;
	u64 target;
	unsigned cpus;
	u64 ap_seen[MAX_CPUS];
	u64 ap_seen_tick[MAX_CPUS]; /* tick at which the counter last moved */
	u64 *churn;
	u64 churn_words;
	volatile u64 churn_bad; /* 1 + the word found stale, from CPU 1 */
	volatile u64 churn_gen; /* generation being written */
};

static struct state st;
static volatile u64 timer_irqs;
static volatile u64 ap_count[MAX_CPUS] __attribute__((aligned(64)));

static u64 clock_now_ns(void)
{
	u32 version;
	u64 ns;

	if (clock_is_tsc)
		return rdtsc() * 1000000 / tsc_khz();
	do {
		version = pvclock.version;
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		u64 delta = rdtsc() - pvclock.tsc_timestamp;
		if (pvclock.tsc_shift >= 0)
			delta <<= pvclock.tsc_shift;
		else
			delta >>= -pvclock.tsc_shift;
		ns = pvclock.system_time + (u64)(((unsigned __int128)delta * pvclock.tsc_to_system_mul) >> 32);
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
	} while ((version & 1) || version != pvclock.version);
	return ns;
}

static u64 pattern(u64 i)
{
	return (i * 0x9E3779B97F4A7C15ull) ^ 0xC0FFEE0DDF00Dull;
}

static void timer_isr(struct irq_frame *f)
{
	(void)f;
	timer_irqs++;
}

static u64 ap_spin(u64 index)
{
	for (;;)
		__atomic_add_fetch(&ap_count[index], 1, __ATOMIC_RELAXED);
	return 0;
}

/* Word i of the churn area in pass gen (0: never written, zero). */
static u64 churn_val(u64 i, u64 gen)
{
	return gen ? gen << 40 | (i + 1) : 0;
}

static u64 ap_churn(u64 index)
{
	for (u64 gen = 1;; gen++) {
		st.churn_gen = gen;
		for (u64 i = 0; i < st.churn_words; i += 512) {
			for (u64 k = i; k < i + 512; k++) {
				if (st.churn[k] != churn_val(k, gen - 1)) {
					st.churn_bad = k + 1;
					for (;;)
						cpu_relax();
				}
				st.churn[k] = churn_val(k, gen);
			}
			__atomic_add_fetch(&ap_count[index], 1, __ATOMIC_RELAXED);
		}
	}
	return 0;
}

static void ap_main(unsigned index)
{
	if (index == 1 && st.churn_words)
		run_user(ap_churn, index);
	run_user(ap_spin, index);
}

static u64 user_fill(u64 arg)
{
	(void)arg;
	for (u64 i = 0; i < st.words; i++)
		st.mem[i] = pattern(i);
	return 0;
}

static bool verify(u64 from, u64 to)
{
	for (u64 i = from; i < to; i++)
		if (st.mem[i] != pattern(i)) {
			gprintf("FAIL: guest: memory word %lu at %p is %#lx, expected %#lx\n", i,
				(void *)&st.mem[i], st.mem[i], pattern(i));
			return false;
		}
	return true;
}

/* Ring 3: the tick loop. */
static u64 user_ticks(u64 arg)
{
	u64 seen = timer_irqs;

	(void)arg;
	st.last_ns = clock_now_ns();
	while (st.tick < st.target) {
		while (timer_irqs == seen)
			cpu_relax();
		seen = timer_irqs;
		st.tick++;

		u64 prev = st.last_ns, now = clock_now_ns(), delta = now - prev;
		st.last_ns = now;
		/* Generous bounds for a noisy 2-core host, but a restore that
		 * let the clock leap (or run backwards) fails them. */
		if (now <= prev || delta > st.gap_ticks * st.tick_ns) {
			gprintf("FAIL: guest: tick %lu: %s clock moved %lu ns, expected about %lu\n", st.tick,
				clock_is_tsc ? "TSC" : "kvm", delta, st.tick_ns);
			return 1;
		}
		if (st.churn_bad) {
			u64 k = st.churn_bad - 1;

			gprintf("FAIL: guest: tick %lu: churn word %lu is %#lx in pass %lu: a page written before "
				"the snapshot was lost\n", st.tick, k, st.churn[k], st.churn_gen);
			return 1;
		}
		u64 slice = st.words / 16;
		u64 part = st.tick % 16;
		if (!verify(part * slice, part == 15 ? st.words : (part + 1) * slice))
			return 1;
		/* A vCPU thread may wait for a host core for a while on a
		 * loaded machine: only a CPU stuck for 3 s of ticks fails. */
		for (unsigned c = 1; c < st.cpus; c++) {
			u64 n = ap_count[c];
			if (n != st.ap_seen[c] || !st.ap_seen_tick[c]) {
				st.ap_seen[c] = n;
				st.ap_seen_tick[c] = st.tick;
			} else if ((st.tick - st.ap_seen_tick[c]) * st.tick_ns > 3000000000ull) {
				gprintf("FAIL: guest: tick %lu: cpu %u made no progress since tick %lu\n", st.tick, c,
					st.ap_seen_tick[c]);
				return 1;
			}
		}
		gprintf("tick %lu cpus=%u\n", st.tick, st.cpus);
	}
	return verify(0, st.words) ? 0 : 1;
}

int guest_main(void)
{
	u64 mib = mb_arg_u64("mb", 64);
	u64 tick_ms = mb_arg_u64("tick_ms", 50);
	unsigned want = (unsigned)mb_arg_u64("cpus", 1);

	u64 churn = mb_arg_u64("churn", 0);
	st.words = mib << 17;
	st.mem = (u64 *)mb_find_ram((mib + churn) << 20, 1 << 21);
	st.churn = st.mem + st.words;
	st.churn_words = churn << 17;
	if (!st.mem)
		guest_fail("no %lu MiB of RAM below 4 GiB", mib);
	st.target = mb_arg_u64("ticks", 1000000);
	/* A checkpoint pauses the running guest and its clock steps by the
	 * pause; where saving is slow (nested KVM under emulation) the tests
	 * allow more (gap_ticks=). */
	st.gap_ticks = mb_arg_u64("gap_ticks", 40);
	st.tick_ns = tick_ms * 1000000;
	char clock[8];
	clock_is_tsc = mb_arg("clock", clock, sizeof(clock)) && strcmp(clock, "tsc") == 0;
	if (!clock_is_tsc) {
		wrmsr(MSR_KVM_SYSTEM_TIME_NEW, (u64)&pvclock | 1);
		if (!pvclock.version && !pvclock.system_time)
			guest_fail("kvmclock did not start (MSR_KVM_SYSTEM_TIME_NEW)");
	} else {
		tsc_khz();
	}
	run_user(user_fill, 0);
	gprintf("filled %lu MiB\n", mib);
	if (want > 1) {
		st.cpus = smp_boot(want, ap_main, 5000);
		if (st.cpus != want)
			guest_fail("only %u of %u CPUs came up", st.cpus, want);
	} else {
		st.cpus = 1;
	}
	irq_register(TIMER_VECTOR, timer_isr);
	lapic_enable();
	/* KVM's LAPIC timer counts at 1 GHz; divide by 16 (0x3). */
	mmio_write32(LAPIC_BASE + LAPIC_TIMER_DIV, 0x3);
	mmio_write32(LAPIC_BASE + LAPIC_LVT_TIMER, LVT_PERIODIC | TIMER_VECTOR);
	mmio_write32(LAPIC_BASE + LAPIC_TIMER_INIT, (u32)(tick_ms * 1000000 / 16));
	irq_enable();
	if (run_user(user_ticks, 0) != 0)
		exit_guest(GUEST_EXIT_FAIL);
	irq_disable();
	gprintf("done: %lu ticks, memory verified, %s clock at %lu ms, churn pass %lu\n", st.tick,
		clock_is_tsc ? "TSC" : "kvm", clock_now_ns() / 1000000, st.churn_gen);
	return GUEST_EXIT_PASS;
}
