/* Bad input: every truncation and every single-bit flip of a small
 * snapshot (exhaustively), huge lengths, wrong magic, and RAM files of the
 * wrong size or with a changed page.  Each must fail with a message, never
 * crash, and never allocate beyond the caps (ASan build). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "check.h"
#include "snap/wire.h"
#include "test_snap_util.h"

static char tmpdir[] = "/tmp/hyve-snap-corrupt-XXXXXX";
static char state_path[128], mem_path[160];
static uint8_t *state;
static size_t state_len;

/* Opens a buffer and, if that works, decodes everything in it. */
static int load_all(const uint8_t *d, size_t len, struct hyve_err *err)
{
	struct snap_reader *r;
	struct tstate s;
	struct tvcpu v;
	struct snap_machine *m = malloc(sizeof(*m));
	int ret;

	ret = snap_reader_open_mem(&r, d, len, err);
	if (ret)
		goto out;
	ret = snap_read_machine(r, m, err);
	for (unsigned i = 0; i < 2 && !ret; i++) {
		ret = snap_decode_section(r, snap_find_section(r, "testdev", i),
					  &tstate_desc_v1, &s, err);
		if (!ret)
			ret = snap_decode_section(
			    r, snap_find_section(r, "vcpu", i), &tvcpu_desc, &v,
			    err);
	}
	snap_reader_close(r);
out:
	free(m);
	return ret;
}

static void corrupt_every_truncation_fails_with_a_message(void)
{
	struct hyve_err err;
	unsigned bad = 0;

	for (size_t n = 0; n < state_len; n++) {
		err_clear(&err);
		if (load_all(state, n, &err) == 0 || err.msg[0] == '\0') {
			if (!bad++)
				printf("  truncation at %zu not detected\n", n);
		}
	}
	CHECK_EQ(bad, 0);
	err_clear(&err);
	CHECK_EQ(load_all(state, state_len, &err), 0);
}

static void corrupt_every_bit_flip_fails_with_a_message(void)
{
	uint8_t *copy = malloc(state_len);
	struct hyve_err err;
	unsigned bad = 0, checksum_named = 0;

	memcpy(copy, state, state_len);
	for (size_t i = 0; i < state_len; i++) {
		for (unsigned bit = 0; bit < 8; bit++) {
			copy[i] ^= (uint8_t)(1u << bit);
			err_clear(&err);
			if (load_all(copy, state_len, &err) == 0 ||
			    err.msg[0] == '\0') {
				if (!bad++)
					printf("  flip of bit %u at %zu not "
					       "detected\n",
					       bit, i);
			}
			checksum_named += strstr(err.msg, "checksum") != NULL;
			copy[i] ^= (uint8_t)(1u << bit);
		}
	}
	CHECK_EQ(bad, 0);
	/* Most flips land in checksummed bytes and say so. */
	CHECK(checksum_named > state_len * 8 / 2);
	free(copy);
}

/* A record with a correct checksum and an absurd length: refused before
 * anything of that size is allocated. */
static void corrupt_huge_lengths_are_refused_before_allocation(void)
{
	uint8_t *copy = malloc(state_len);
	struct hyve_err err = {0};
	struct snap_reader *r = NULL;
	uint64_t lens[] = {SNAP_RECORD_MAX + 1ULL, 1ULL << 40, UINT64_MAX,
			   UINT64_MAX - 7};

	for (unsigned k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
		memcpy(copy, state, state_len);
		snap_put_le64(copy + SNAP_HEADER_SIZE + 8, lens[k]);
		err_clear(&err);
		CHECK(snap_reader_open_mem(&r, copy, state_len, &err) < 0);
		CHECK(strstr(err.msg, "record 0 'MACH'") != NULL);
	}
	/* In range of the cap but longer than the file. */
	memcpy(copy, state, state_len);
	snap_put_le64(copy + SNAP_HEADER_SIZE + 8, SNAP_RECORD_MAX);
	err_clear(&err);
	CHECK_EQ(snap_reader_open_mem(&r, copy, state_len, &err), -EBADMSG);
	CHECK(strstr(err.msg, "truncated: record 0 'MACH'") != NULL);
	/* A whole file beyond the total cap is refused before reading it. */
	err_clear(&err);
	CHECK_EQ(
	    snap_reader_open_mem(&r, copy, (size_t)SNAP_STATE_MAX + 1, &err),
	    -EFBIG);
	free(copy);
}

static void corrupt_wrong_magic_and_not_a_file(void)
{
	uint8_t *copy = malloc(state_len);
	struct hyve_err err = {0};
	struct snap_reader *r = NULL;

	memcpy(copy, state, state_len);
	memcpy(copy, "QEMU\0\0\0\0", 8);
	CHECK_EQ(snap_reader_open_mem(&r, copy, state_len, &err), -EBADMSG);
	CHECK(strstr(err.msg, "not a hyve snapshot (bad magic)") != NULL);
	err_clear(&err);
	CHECK(snap_reader_open(&r, "/tmp", &err) < 0);
	CHECK(strstr(err.msg, "not a regular file") != NULL);
	err_clear(&err);
	CHECK(snap_reader_open(&r, "/nonexistent/snap", &err) < 0);
	CHECK(strstr(err.msg, "/nonexistent/snap") != NULL);
	free(copy);
}

static struct snap_ram_map *ram_map(void)
{
	struct snap_ram_map *map = malloc(sizeof(*map));
	struct hyve_err err = {0};
	struct snap_reader *r;

	if (snap_reader_open(&r, state_path, &err)) {
		free(map);
		return NULL;
	}
	if (snap_read_ram_map(r, map, &err)) {
		free(map);
		map = NULL;
	}
	snap_reader_close(r);
	return map;
}

static void corrupt_ram_file_of_wrong_size_or_changed_page(void)
{
	struct snap_ram_map *map = ram_map();
	struct hyve_err err = {0};
	int fd;
	uint8_t b;

	CHECK(map != NULL);
	if (!map)
		return;
	CHECK_EQ(snap_ram_verify(mem_path, map, &err), 0);
	fd = open(mem_path, O_RDWR);
	/* One byte too long. */
	CHECK_EQ(ftruncate(fd, (64 << 10) + 1), 0);
	CHECK_EQ(snap_ram_verify(mem_path, map, &err), -EBADMSG);
	CHECK(strstr(err.msg, "is 65537 bytes, the RAM map says 65536") !=
	      NULL);
	CHECK_EQ(ftruncate(fd, 64 << 10), 0);
	/* A changed byte in a data page, then in a hole. */
	CHECK_EQ(pread(fd, &b, 1, 4096 + 100), 1);
	b ^= 0x10;
	CHECK_EQ(pwrite(fd, &b, 1, 4096 + 100), 1);
	err_clear(&err);
	CHECK_EQ(snap_ram_verify(mem_path, map, &err), -EBADMSG);
	CHECK(strstr(err.msg,
		     "chunk 0 (guest 0x0..0xffff) does not match its digest") !=
	      NULL);
	b ^= 0x10;
	CHECK_EQ(pwrite(fd, &b, 1, 4096 + 100), 1);
	err_clear(&err);
	CHECK_EQ(snap_ram_verify(mem_path, map, &err), 0);
	b = 1;
	CHECK_EQ(pwrite(fd, &b, 1, 9 * 4096), 1);
	CHECK_EQ(snap_ram_verify(mem_path, map, &err), -EBADMSG);
	close(fd);
	/* A map that points outside the file is refused by the map check. */
	err_clear(&err);
	map->ranges[0].offset = 4096;
	CHECK_EQ(snap_ram_verify(mem_path, map, &err), -EBADMSG);
	CHECK(strstr(err.msg, "range 0") != NULL);
	free(map);
}

/* A real memfd with holes: untouched pages stay holes in the RAM file, and
 * loading reproduces the memory. */
static void corrupt_memfd_ram_roundtrip_is_sparse(void)
{
	const uint64_t size = 8 << 20;
	struct hyve_err err = {0};
	struct snap_ram_map *map = malloc(sizeof(*map));
	struct guest_mem gm = {0}, back = {0};
	char path[200];
	struct stat st;
	int fd;

	snprintf(path, sizeof(path), "%s/ram.mem", tmpdir);
	gm.fd = memfd_create("snaptest", 0);
	back.fd = memfd_create("snaptest2", 0);
	CHECK(gm.fd >= 0 && back.fd >= 0);
	CHECK_EQ(ftruncate(gm.fd, (off_t)size), 0);
	CHECK_EQ(ftruncate(back.fd, (off_t)size), 0);
	gm.host =
	    mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, gm.fd, 0);
	back.host =
	    mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, back.fd, 0);
	gm.size = back.size = size;
	gm.nr_ranges = back.nr_ranges = 2;
	gm.ranges[0] = back.ranges[0] = (struct mem_range){0, 4 << 20, 0};
	gm.ranges[1] = back.ranges[1] =
	    (struct mem_range){1ULL << 32, 4 << 20, 4 << 20};
	memset(gm.host + 12288, 0x11, 4096);
	memset(gm.host + (5 << 20), 0x22, 8192);
	gm.host[size - 1] = 0x33;
	memset(gm.host + (6 << 20), 0,
	       4096); /* allocated but zero: a hole too */
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	CHECK_EQ(snap_ram_write(fd, &gm, map, &err), 0);
	CHECK_EQ(map->nr_digests, 4);
	CHECK_EQ(fstat(fd, &st), 0);
	CHECK_EQ(st.st_size, size);
	CHECK(st.st_blocks * 512 <= 64 * 1024); /* 4 data pages, not 8 MiB */
	close(fd);
	CHECK_EQ(snap_ram_verify(path, map, &err), 0);
	CHECK_EQ(snap_ram_load(path, map, &back, &err), 0);
	CHECK(memcmp(gm.host, back.host, size) == 0);
	/* A machine with another layout is refused. */
	back.ranges[1].gpa = 1ULL << 33;
	CHECK_EQ(snap_ram_load(path, map, &back, &err), -EINVAL);
	munmap(gm.host, size);
	munmap(back.host, size);
	close(gm.fd);
	close(back.fd);
	free(map);
}

int main(void)
{
	struct hyve_err err = {0};
	char cmd[200];
	int rc;

	if (!mkdtemp(tmpdir))
		return 1;
	snprintf(state_path, sizeof(state_path), "%s/snap", tmpdir);
	snprintf(mem_path, sizeof(mem_path), "%s/snap.mem", tmpdir);
	if (tsnap_write(state_path, &err) ||
	    !(state = tread_file(state_path, &state_len))) {
		printf("FAIL: setup: %s\n", err.msg);
		return 1;
	}
	RUN_TEST(corrupt_every_truncation_fails_with_a_message);
	RUN_TEST(corrupt_every_bit_flip_fails_with_a_message);
	RUN_TEST(corrupt_huge_lengths_are_refused_before_allocation);
	RUN_TEST(corrupt_wrong_magic_and_not_a_file);
	RUN_TEST(corrupt_ram_file_of_wrong_size_or_changed_page);
	RUN_TEST(corrupt_memfd_ram_roundtrip_is_sparse);
	free(state);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	rc = system(cmd);
	(void)rc;
	return CHECK_DONE();
}
