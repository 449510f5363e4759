/* Times snap_ram_write (the RAM file writer) outside a VM:
 *   build/bench/bench_ram_write DIR [MEM_MiB [FILLED_MiB]]
 * HYVE_SAVE_THREADS=N sets the writer's thread count. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hyve/snapshot.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	uint64_t mem = (argc > 2 ? strtoull(argv[2], NULL, 0) : 1024) << 20;
	uint64_t fill = (argc > 3 ? strtoull(argv[3], NULL, 0) : 512) << 20;
	struct snap_ram_map *map = calloc(1, sizeof(*map));
	struct hyve_err err = {0};
	struct guest_mem gm;
	char path[4096];
	double t0, t1, t2;
	int fd;

	if (argc < 2 || !map) {
		fprintf(stderr,
			"usage: bench_ram_write DIR [MEM_MiB [FILLED_MiB]]\n");
		return 2;
	}
	if (guest_mem_create(&gm, mem, &err)) {
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}
	for (uint64_t i = 0; i < fill / 8; i++)
		((uint64_t *)(void *)gm.host)[i] =
		    i * 0x9E3779B97F4A7C15ull + 1;
	snprintf(path, sizeof(path), "%s/bench_ram_write.mem", argv[1]);
	fd = open(path,
		  O_RDWR | O_CREAT | O_TRUNC |
		      (getenv("BENCH_DIRECT") ? O_DIRECT : 0),
		  0600);
	t0 = now();
	if (snap_ram_write(fd, &gm, map, &err)) {
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}
	t1 = now();
	fsync(fd);
	t2 = now();
	printf("write %.3f s (%.0f MiB/s), fsync %.3f s\n", t1 - t0,
	       fill / 1048576.0 / (t1 - t0), t2 - t1);
	close(fd);
	unlink(path);
	guest_mem_destroy(&gm);
	free(map);
	return 0;
}
