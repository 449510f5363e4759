/* The L2 save/restore workload (tests/nested/test_linux_snapshot.sh): runs
 * as a plain Linux process in the guest hyve snapshots, so a restore that
 * loses RAM, a vCPU, the clock or an interrupt shows here.
 *
 *   l2-workload MIB TICKS
 *
 * Fills MIB MiB with a position-dependent pattern, then once a second (on
 * absolute CLOCK_MONOTONIC deadlines) re-verifies the whole pattern, half of
 * it pinned to each CPU, and prints one line:
 *   HYVE-TICK n=N mono_ms=M uptime=U date=D online=LIST cpus=C
 * n counts ticks (it lives in guest RAM, so a restored guest continues it),
 * mono_ms is CLOCK_MONOTONIC, uptime the first field of /proc/uptime, date
 * time(NULL) (what `date +%s` prints), all three read on waking; online /sys/devices/system/cpu/online
 * and cpus the CPUs the verification ran on.  After TICKS ticks it exits 0;
 * a corrupted word, or a CPU it cannot run on, prints HYVE-WORKLOAD-FAIL and
 * exits 1.  Built with gcc -static: the L2 initramfs has no libc. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static uint64_t *mem;
static uint64_t words;

static uint64_t pattern(uint64_t i)
{
	return (i * 0x9E3779B97F4A7C15ull) ^ 0x5EED0F5A7E5700ull;
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The first line of a small sysfs/procfs file, without its newline. */
static void read_line(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY);
	ssize_t n = fd >= 0 ? read(fd, buf, size - 1) : -1;

	if (fd >= 0)
		close(fd);
	if (n < 0)
		n = 0;
	buf[n] = '\0';
	buf[strcspn(buf, " \n")] = '\0';
	if (!buf[0])
		snprintf(buf, size, "?");
}

/* Moves this process onto CPU cpu: a vCPU that stopped running after a
 * restore never schedules it, and the tick stops (the test times out on it). */
static int run_on(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) != 0)
		return -1;
	return sched_getcpu() == cpu ? 0 : -1;
}

static int verify(uint64_t from, uint64_t to, uint64_t tick)
{
	for (uint64_t i = from; i < to; i++)
		if (mem[i] != pattern(i)) {
			printf("HYVE-WORKLOAD-FAIL: tick %" PRIu64 ": word %" PRIu64 " is %#" PRIx64
			       ", expected %#" PRIx64 "\n",
			       tick, i, mem[i], pattern(i));
			return -1;
		}
	return 0;
}

int main(int argc, char **argv)
{
	uint64_t mib = argc > 1 ? strtoull(argv[1], NULL, 10) : 64;
	uint64_t ticks = argc > 2 ? strtoull(argv[2], NULL, 10) : 10;
	int ncpus = (int)sysconf(_SC_NPROCESSORS_ONLN);
	char online[64], uptime[64], cpus[64];
	struct timespec next;

	setvbuf(stdout, NULL, _IOLBF, 0);
	words = mib << 17;
	mem = mmap(NULL, words * 8, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (mem == MAP_FAILED) {
		printf("HYVE-WORKLOAD-FAIL: cannot map %" PRIu64 " MiB\n", mib);
		return 1;
	}
	for (uint64_t i = 0; i < words; i++)
		mem[i] = pattern(i);
	printf("HYVE-WORKLOAD-FILLED mib=%" PRIu64 " cpus=%d\n", mib, ncpus);

	clock_gettime(CLOCK_MONOTONIC, &next);
	for (uint64_t tick = 1; tick <= ticks; tick++) {
		next.tv_sec++;
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
		/* The clocks are read on waking, before the verification: a
		 * restored guest first faults its RAM back in, which takes a
		 * while and is not what the test measures. */
		int64_t woke_ms = mono_ms();
		long long woke_date = (long long)time(NULL);
		read_line("/proc/uptime", uptime, sizeof(uptime));
		/* Each CPU verifies its share: both must run code after a restore. */
		size_t used = 0;
		cpus[0] = '\0';
		for (int c = 0; c < ncpus; c++) {
			uint64_t from = words / ncpus * c, to = c == ncpus - 1 ? words : words / ncpus * (c + 1);
			if (run_on(c) != 0) {
				printf("HYVE-WORKLOAD-FAIL: tick %" PRIu64 ": cannot run on CPU %d\n", tick, c);
				return 1;
			}
			if (verify(from, to, tick) != 0)
				return 1;
			if (used < sizeof(cpus))
				used += snprintf(cpus + used, sizeof(cpus) - used, "%s%d", c ? "," : "", c);
		}
		read_line("/sys/devices/system/cpu/online", online, sizeof(online));
		printf("HYVE-TICK n=%" PRIu64 " mono_ms=%" PRId64 " uptime=%s date=%lld online=%s cpus=%s\n", tick,
		       woke_ms, uptime, woke_date, online, cpus);
		/* After a long stall (a save, a loaded host) do not burst ticks. */
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec > next.tv_sec)
			next = now;
	}
	printf("HYVE-WORKLOAD-DONE ticks=%" PRIu64 "\n", ticks);
	return 0;
}
