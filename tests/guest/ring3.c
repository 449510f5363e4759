/* Heavy work in ring 3: fills mb=N MiB (default 64) of RAM with a
 * pseudo-random sequence and checksums it back, all at CPL 3 with IOPL 3 on
 * user pages, then exercises the ring-3 -> ring-0 request path (print, port
 * I/O, exit).  Ring 3 runs natively on the test host, so this is fast where
 * the same loop in ring 0 would take minutes. */
#include "guest.h"

#define LCG_MUL 6364136223846793005ull
#define LCG_ADD 1442695040888963407ull

struct job {
	u64 *buf;
	u64 words;
	u64 written_sum, read_sum;
	unsigned ring_seen;
};

static u64 fill_and_sum(u64 arg)
{
	struct job *j = (struct job *)arg;
	u64 x = 0x243F6A8885A308D3ull, sum = 0;

	j->ring_seen = cpu_ring();
	for (u64 i = 0; i < j->words; i++) {
		x = x * LCG_MUL + LCG_ADD;
		j->buf[i] = x ^ i;
		sum += x ^ i;
	}
	j->written_sum = sum;
	sum = 0;
	for (u64 i = 0; i < j->words; i++)
		sum += j->buf[i];
	j->read_sum = sum;
	gprintf("ring3: cpl %u filled and summed %lu MiB: %#lx\n", cpu_ring(),
		j->words >> 17, sum);
	return sum == j->written_sum ? 0x600d : 0xbad;
}

/* Port I/O from ring 3 goes through the ud2 request: read the UART's
 * scratch register back after writing it. */
static u64 user_port_io(u64 arg)
{
	io_out(0x3f8 + 7, (u32)arg, 1);
	return io_in(0x3f8 + 7, 1);
}

static u64 user_exit(u64 arg)
{
	gprintf("ring3: exiting from cpl %u\n", cpu_ring());
	exit_guest((u32)arg);
}

int guest_main(void)
{
	u64 mib = mb_arg_u64("mb", 64);
	static struct job job;

	job.words = mib << 17;
	job.buf = (u64 *)mb_find_ram(mib << 20, 1 << 21);
	if (!job.buf)
		guest_fail(
		    "no %lu MiB of free RAM in the memory map below 4 GiB",
		    mib);
	u64 t0 = rdtsc();
	u64 ret = run_user(fill_and_sum, (u64)&job);
	u64 t1 = rdtsc();
	if (job.ring_seen != 3)
		guest_fail("run_user ran the function at CPL %u",
			   job.ring_seen);
	if (ret != 0x600d || job.read_sum != job.written_sum)
		guest_fail("checksum mismatch: wrote %#lx read %#lx",
			   job.written_sum, job.read_sum);
	gprintf("ring3: back in cpl %u after %lu Mcycles\n", cpu_ring(),
		(t1 - t0) / 1000000);
	u64 scratch = run_user(user_port_io, 0x5a);
	if (scratch != 0x5a)
		guest_fail(
		    "ring-3 port I/O: scratch register read %#lx, wrote 0x5a",
		    scratch);
	run_user(user_exit, GUEST_EXIT_PASS);
	guest_fail("ring-3 exit request returned");
}
