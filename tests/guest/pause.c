/* A ring-3 workload on every vCPU for hyve's pause/resume self-test
 * (hyve --selftest-pause=N): nothing the guest computed may be lost or
 * stuck across the pauses.
 *
 * Every CPU runs an LCG in registers in rounds of 2^20 steps, adds each
 * round to a shared counter with a locked add, writes a pattern into its
 * own memory window and checks the previous round's window, and checks its
 * TSC never goes backwards.  CPU 0 stops everyone when a byte arrives on
 * COM1 (the test sends one once hyve reports the cycles done) or after ms=
 * milliseconds.  At the end: each CPU's LCG state equals the jump-ahead of
 * its own step count, the shared counter equals the sum of the steps, and
 * every CPU made progress.  Command line: cpus=N ms=T. */
#include "guest.h"

#define LCG_MUL	     6364136223846793005ull
#define LCG_ADD	     1442695040888963407ull
#define ROUND_STEPS  (1ull << 20)
#define WINDOW_WORDS 1024 /* 8 KiB */
#define WINDOWS	     64

struct worker {
	u64 x, steps, rounds, errors;
	u64 *mem;
	u64 first_error[2];
} __attribute__((aligned(64)));

static struct worker workers[MAX_CPUS];
static volatile u64 shared_steps;
static volatile u32 stop, finished;
static u64 deadline;

static u64 seed_of(u64 index)
{
	return 0x9E3779B97F4A7C15ull * (index + 1);
}

static u64 pattern(u64 index, u64 round, u64 i)
{
	return (round << 32) ^ (index << 24) ^ i ^ 0x5555AAAA5555AAAAull;
}

static void note_error(struct worker *w, u64 what, u64 detail)
{
	if (!w->errors++) {
		w->first_error[0] = what;
		w->first_error[1] = detail;
	}
}

/* Ring 3. */
static u64 worker_run(u64 index)
{
	struct worker *w = &workers[index];
	u64 x = seed_of(index), last_tsc = rdtsc();

	while (!stop) {
		for (u64 i = 0; i < ROUND_STEPS; i++)
			x = x * LCG_MUL + LCG_ADD;
		__atomic_add_fetch(&shared_steps, ROUND_STEPS,
				   __ATOMIC_RELAXED);
		w->steps += ROUND_STEPS;

		u64 *win = w->mem + (w->rounds % WINDOWS) * WINDOW_WORDS;
		for (u64 i = 0; i < WINDOW_WORDS; i++)
			win[i] = pattern(index, w->rounds, i);
		if (w->rounds) {
			u64 prev = w->rounds - 1;
			u64 *pw = w->mem + (prev % WINDOWS) * WINDOW_WORDS;
			for (u64 i = 0; i < WINDOW_WORDS; i++)
				if (pw[i] != pattern(index, prev, i))
					note_error(w, 1, prev);
		}
		w->rounds++;

		u64 now = rdtsc();
		if (now < last_tsc)
			note_error(w, 2, last_tsc - now);
		last_tsc = now;
		if (index == 0 && (w->rounds % 8 == 0 || now > deadline)) {
			if ((io_in(0x3f8 + 5, 1) & 1) || now > deadline)
				stop = 1;
		}
	}
	w->x = x;
	return 0;
}

static void ap_work(unsigned index)
{
	run_user(worker_run, index);
	__atomic_add_fetch(&finished, 1, __ATOMIC_SEQ_CST);
}

/* x -> a*x + c applied n times, by squaring the affine map. */
static u64 lcg_jump(u64 x, u64 n)
{
	u64 a = LCG_MUL, c = LCG_ADD, ra = 1, rc = 0;

	for (; n; n >>= 1) {
		if (n & 1) {
			ra = ra * a;
			rc = rc * a + c;
		}
		c = c * a + c;
		a = a * a;
	}
	return ra * x + rc;
}

int guest_main(void)
{
	unsigned cpus = (unsigned)mb_arg_u64("cpus", 1);
	u64 ms = mb_arg_u64("ms", 60000);

	if (cpus < 1 || cpus > MAX_CPUS)
		guest_fail("cpus=%u is outside 1..%u", cpus, MAX_CPUS);
	u64 base = mb_find_ram((u64)cpus * WINDOWS * WINDOW_WORDS * 8, 4096);
	if (!base)
		guest_fail("no RAM for %u worker windows", cpus);
	for (unsigned i = 0; i < cpus; i++)
		workers[i].mem = (u64 *)base + (u64)i * WINDOWS * WINDOW_WORDS;
	deadline = rdtsc() + ms * tsc_khz();
	if (cpus > 1) {
		unsigned up = smp_boot(cpus, ap_work, 5000);
		if (up != cpus)
			guest_fail("expected %u CPUs, %u came up", cpus, up);
	}
	gprintf("pause: %u cpus running\n", cpus);
	run_user(worker_run, 0);
	u64 wait_end = rdtsc() + 10000 * tsc_khz();
	while (finished != cpus - 1 && rdtsc() < wait_end)
		cpu_relax();
	if (finished != cpus - 1)
		guest_fail(
		    "only %u of %u APs finished their work after the stop",
		    finished, cpus - 1);

	u64 sum = 0;
	for (unsigned i = 0; i < cpus; i++) {
		struct worker *w = &workers[i];
		if (w->errors)
			guest_fail(
			    "cpu %u: %lu errors, first: %s (%#lx)", i,
			    w->errors,
			    w->first_error[0] == 1
				? "memory window lost its pattern in round"
				: "TSC went backwards by",
			    w->first_error[1]);
		if (!w->steps)
			guest_fail("cpu %u made no progress", i);
		if (w->x != lcg_jump(seed_of(i), w->steps))
			guest_fail("cpu %u: register state after %lu steps is "
				   "%#lx, expected %#lx",
				   i, w->steps, w->x,
				   lcg_jump(seed_of(i), w->steps));
		sum += w->steps;
		gprintf("pause: cpu %u %lu rounds\n", i, w->rounds);
	}
	if (sum != shared_steps)
		guest_fail("shared counter %lu != sum of per-cpu steps %lu",
			   shared_steps, sum);
	gprintf("pause: ok, %u cpus, %lu steps\n", cpus, sum);
	return GUEST_EXIT_PASS;
}
