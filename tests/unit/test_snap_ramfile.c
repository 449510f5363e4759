/* The RAM file writer (src/snap/ram_write.c): multi-threaded writes, the
 * two-pass save (data while stopped, digests from the file afterwards) and
 * the save of a lazily restored guest (RAM = an old RAM file mapped
 * privately, no memfd). */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "hyve/snapshot.h"
#include "snap/ram_internal.h"

#define MEM_SIZE (48ULL << 20)

static char tmpdir[] = "/tmp/hyve-ramfile-XXXXXX";

static void mem_init(struct guest_mem *gm, int fd, uint8_t *host)
{
	memset(gm, 0, sizeof(*gm));
	gm->fd = fd;
	gm->host = host;
	gm->size = MEM_SIZE;
	gm->nr_ranges = 2;
	gm->ranges[0] = (struct mem_range){0, 32 << 20, 0};
	gm->ranges[1] = (struct mem_range){1ULL << 32, 16 << 20, 32 << 20};
}

static int memfd_guest(struct guest_mem *gm)
{
	int fd = memfd_create("ramfile", 0);
	uint8_t *host;

	if (fd < 0 || ftruncate(fd, MEM_SIZE))
		return -1;
	host = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (host == MAP_FAILED)
		return -1;
	mem_init(gm, fd, host);
	return 0;
}

/* Data in odd places: a 10 MiB run (longer than one pwrite), a page of
 * zeroes inside it, single pages, the last byte, a run across the range
 * boundary's file offset. */
static void fill(struct guest_mem *gm)
{
	for (uint64_t i = (1 << 20); i < (11 << 20); i += 8)
		*(uint64_t *)(void *)(gm->host + i) =
		    i * 0x9E3779B97F4A7C15ull | 1;
	memset(gm->host + (5 << 20), 0, 4096);
	memset(gm->host + (20 << 20) + 4096, 0x5a, 4096);
	memset(gm->host + (32 << 20) - 8192, 0x77, 16384);
	gm->host[MEM_SIZE - 1] = 0x33;
}

static uint64_t nonzero_bytes(const uint8_t *p, uint64_t len)
{
	uint64_t n = 0;

	for (uint64_t o = 0; o < len; o += 4096)
		n += ram_page_is_zero(p + o) ? 0 : 4096;
	return n;
}

/* Whether the page at p is in this process's page tables. */
static int page_present(const void *p)
{
	int fd = open("/proc/self/pagemap", O_RDONLY);
	uint64_t e = 0;

	if (fd < 0 || pread(fd, &e, 8, (off_t)((uintptr_t)p / 4096 * 8)) != 8)
		e = 0;
	if (fd >= 0)
		close(fd);
	return (int)(e >> 63);
}

static int file_open(const char *name, char *path)
{
	sprintf(path, "%s/%s", tmpdir, name);
	return open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
}

static void two_pass_digests_equal_one_pass(void)
{
	struct snap_ram_map *a = calloc(1, sizeof(*a)),
			    *b = calloc(1, sizeof(*b));
	struct hyve_err err = {0};
	char pa[256], pb[256];
	struct guest_mem gm;
	struct stat st;
	int fa, fb;

	CHECK(a && b);
	CHECK_EQ(memfd_guest(&gm), 0);
	fill(&gm);
	for (int threads = 1; threads <= 3; threads += 2) {
		char n[16];

		snprintf(n, sizeof(n), "%d", threads);
		setenv("HYVE_SAVE_THREADS", n, 1);
		fa = file_open("one.mem", pa);
		fb = file_open("two.mem", pb);
		CHECK(fa >= 0 && fb >= 0);
		CHECK_EQ(snap_ram_write(fa, &gm, a, &err), 0);
		CHECK_EQ(ram_write_data(fb, &gm, b, &err), 0);
		CHECK_EQ(ram_digest_file(fb, b, &err), 0);
		CHECK_EQ(a->nr_digests, b->nr_digests);
		CHECK_EQ(a->nr_digests, 24);
		CHECK(memcmp(a->digests, b->digests,
			     a->nr_digests * sizeof(a->digests[0])) == 0);
		CHECK_EQ(snap_ram_verify(pb, b, &err), 0);
		CHECK_EQ(fstat(fb, &st), 0);
		CHECK_EQ(st.st_size, MEM_SIZE);
		/* Allocated: the non-zero pages, within 1% (plus metadata). */
		CHECK((uint64_t)st.st_blocks * 512 <=
		      nonzero_bytes(gm.host, MEM_SIZE) * 101 / 100 + 65536);
		close(fa);
		close(fb);
	}
	unsetenv("HYVE_SAVE_THREADS");
	munmap(gm.host, MEM_SIZE);
	close(gm.fd);
	free(a);
	free(b);
}

/* Restore lazily (map the RAM file privately, drop the memfd), let the
 * "guest" write (copy-on-write pages in holes and in data, a data page
 * zeroed), save again: the new file holds exactly the memory as it now is,
 * and reading it did not fault in the untouched holes. */
static void save_of_lazily_restored_memory(void)
{
	struct snap_ram_map *map = calloc(1, sizeof(*map));
	struct guest_mem gm, rest, back;
	struct hyve_err err = {0};
	char p1[256], p2[256];
	uint8_t *host;
	struct stat st;
	int f1, f2;

	CHECK(map != NULL);
	CHECK_EQ(memfd_guest(&gm), 0);
	fill(&gm);
	f1 = file_open("first.mem", p1);
	CHECK_EQ(snap_ram_write(f1, &gm, map, &err), 0);
	host = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_NORESERVE, f1, 0);
	CHECK(host != MAP_FAILED);
	mem_init(&rest, -1, host);
	ram_set_origin(&rest, dup(f1));
	memset(host + (40 << 20), 0x44, 3 * 4096); /* in a hole of the file */
	memset(host + (2 << 20), 0, 4096);	   /* data page now zero */
	host[(3 << 20) + 17] ^= 0xff;		   /* data page changed */
	CHECK(host[(30 << 20)] == 0); /* a hole read: present, zero */
	f2 = file_open("second.mem", p2);
	CHECK_EQ(snap_ram_write(f2, &rest, map, &err), 0);
	CHECK(!page_present(host + (45 << 20))); /* never read by the save */
	CHECK(page_present(host + (40 << 20)));
	CHECK_EQ(snap_ram_verify(p2, map, &err), 0);
	CHECK_EQ(memfd_guest(&back), 0);
	CHECK_EQ(snap_ram_load(p2, map, &back, &err), 0);
	CHECK(memcmp(back.host, host, MEM_SIZE) == 0);
	CHECK_EQ(fstat(f2, &st), 0);
	CHECK((uint64_t)st.st_blocks * 512 <=
	      nonzero_bytes(host, MEM_SIZE) * 101 / 100 + 65536);
	ram_set_origin(&rest, -1);
	close(f1);
	close(f2);
	munmap(host, MEM_SIZE);
	munmap(gm.host, MEM_SIZE);
	munmap(back.host, MEM_SIZE);
	close(gm.fd);
	close(back.fd);
	free(map);
}

static void untouched_memory_is_one_zero_digest_per_chunk(void)
{
	struct snap_ram_map *map = calloc(1, sizeof(*map));
	struct hyve_err err = {0};
	struct guest_mem gm;
	struct stat st;
	char p[256];
	int f;

	CHECK(map != NULL);
	CHECK_EQ(memfd_guest(&gm), 0);
	f = file_open("empty.mem", p);
	CHECK_EQ(snap_ram_write(f, &gm, map, &err), 0);
	for (unsigned i = 0; i < map->nr_digests; i++)
		CHECK_EQ(map->digests[i], ram_zero_digest(map->chunk_size));
	CHECK_EQ(fstat(f, &st), 0);
	CHECK_EQ(st.st_blocks, 0);
	CHECK_EQ(snap_ram_verify(p, map, &err), 0);
	close(f);
	munmap(gm.host, MEM_SIZE);
	close(gm.fd);
	free(map);
}

int main(void)
{
	char cmd[300];
	int rc;

	if (!mkdtemp(tmpdir)) {
		printf("FAIL: setup: mkdtemp\n");
		return 1;
	}
	RUN_TEST(two_pass_digests_equal_one_pass);
	RUN_TEST(save_of_lazily_restored_memory);
	RUN_TEST(untouched_memory_is_one_zero_digest_per_chunk);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	rc = system(cmd);
	(void)rc;
	return CHECK_DONE();
}
