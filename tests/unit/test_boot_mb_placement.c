/* Multiboot kernels that load anywhere in RAM: at 0x8000, over all of
 * conventional memory, at the top of RAM.  Each loads, and every piece of
 * boot data hyve places (information structure, memory map, strings,
 * module list, modules, GDT, stack) lies in RAM, off the kernel's segments
 * and off every other piece. */
#include "mb_image.h"

#define MAX_PIECES 64

struct piece {
	uint64_t start, end;
	const char *what;
};

static struct piece pieces[MAX_PIECES];
static unsigned nr_pieces;

static void add(uint64_t start, uint64_t len, const char *what)
{
	if (nr_pieces < MAX_PIECES)
		pieces[nr_pieces++] = (struct piece){start, start + len, what};
}

static void add_string(uint32_t gpa, const char *what)
{
	add(gpa, strlen((const char *)at(gpa)) + 1, what);
}

/* Collects what the loader placed, from the entry and the info. */
static void collect(const struct boot_entry *e, const struct seg *segs,
		    unsigned nr_segs)
{
	const uint8_t *info = at(e->rbx);
	uint32_t flags = get32(info);

	nr_pieces = 0;
	for (unsigned i = 0; i < nr_segs; i++)
		add(segs[i].paddr, segs[i].memsz, "segment");
	add(e->rbx, 116, "information");
	add(get32(info + 48), get32(info + 44), "memory map");
	add_string(get32(info + 16), "command line");
	add_string(get32(info + 64), "loader name");
	add(e->gdt_base, BOOT_GDT_LIMIT + 1, "GDT");
	add(e->rsp - BOOT_STACK_SIZE, BOOT_STACK_SIZE, "stack");
	if (flags & 0x8) {
		uint32_t n = get32(info + 20), list = get32(info + 24);

		add(list, n * 16, "module list");
		for (uint32_t i = 0; i < n; i++) {
			const uint8_t *m = at(list + 16 * i);

			add(get32(m), get32(m + 4) - get32(m), "module");
			add_string(get32(m + 8), "module string");
		}
	}
}

/* Every piece in RAM outside the BIOS area and the first page (for hyve's
 * own pieces), and no two overlapping. */
static int pieces_ok(void)
{
	for (unsigned i = 0; i < nr_pieces; i++) {
		const struct piece *p = &pieces[i];

		if (p->end > RAM || (p->start < BOOT_HIGH_START &&
				     p->end > BOOT_EBDA_START)) {
			printf("  %s 0x%llx-0x%llx is not in RAM\n", p->what,
			       (unsigned long long)p->start,
			       (unsigned long long)p->end);
			return 0;
		}
		if (strcmp(p->what, "segment") && p->start < BOOT_LOW_FLOOR) {
			printf("  %s in the first page\n", p->what);
			return 0;
		}
		for (unsigned j = 0; j < i; j++) {
			const struct piece *q = &pieces[j];

			if (p->start < q->end && q->start < p->end &&
			    (strcmp(p->what, "segment") ||
			     strcmp(q->what, "segment"))) {
				printf("  %s 0x%llx-0x%llx overlaps %s "
				       "0x%llx-0x%llx\n",
				       p->what, (unsigned long long)p->start,
				       (unsigned long long)p->end, q->what,
				       (unsigned long long)q->start,
				       (unsigned long long)q->end);
				return 0;
			}
		}
	}
	return 1;
}

static void two_modules(char *m1, char *m2, size_t n)
{
	uint8_t data[9000];

	for (unsigned i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 5 + 3);
	snprintf(m1, n, "%s/mod1", tmpdir);
	snprintf(m2, n, "%s/mod2", tmpdir);
	write_file(m1, data, sizeof(data));
	write_file(m2, "module two", 10);
	strcpy(cfg.modules[0].path, m1);
	strcpy(cfg.modules[0].args, "first");
	strcpy(cfg.modules[1].path, m2);
	cfg.nr_modules = 2;
}

static uint32_t module_start(const struct boot_entry *e, unsigned i)
{
	return get32(at(get32(at(e->rbx) + 24) + 16 * i));
}

static void test_mb_kernel_at_0x8000_boots_with_its_info(void)
{
	const struct seg s = {.paddr = 0x8000,
			      .vaddr = 0x8000,
			      .off = 0x1000,
			      .filesz = 0x200,
			      .memsz = 0x18000};
	struct hyve_err err = {0};
	struct boot_entry e;
	char m1[256], m2[256];

	reset();
	two_modules(m1, m2, sizeof(m1));
	elf_build(0, &s, 1, 0x8000);
	CHECK_EQ(load(0x1200, &e, &err), 0);
	if (err.code)
		printf("  %s\n", err.msg);
	CHECK(seg_loaded(&s, 0));
	CHECK_EQ(e.rip, 0x8000);
	collect(&e, &s, 1);
	CHECK(pieces_ok());
	/* Modules follow the kernel's end, but never below 1 MiB. */
	CHECK_EQ(module_start(&e, 0), 0x100000);
	CHECK_EQ(module_start(&e, 1), 0x103000);
	CHECK(strcmp(info_str(64), "hyve") == 0);
	unlink(m1);
	unlink(m2);
}

static void test_mb_kernel_over_all_low_memory(void)
{
	/* Conventional memory from 0x1000 up to the EBDA, and 1 MiB. */
	const struct seg s[2] = {
	    {.paddr = 0x1000,
	     .vaddr = 0x1000,
	     .off = 0x1000,
	     .filesz = 0x100,
	     .memsz = BOOT_EBDA_START - 0x1000},
	    {.paddr = 0x100000,
	     .vaddr = 0x100000,
	     .off = 0x2000,
	     .filesz = 0x100,
	     .memsz = 0x10000},
	};
	struct hyve_err err = {0};
	struct boot_entry e;
	char m1[256], m2[256];

	reset();
	two_modules(m1, m2, sizeof(m1));
	elf_build(0, s, 2, 0x100000);
	CHECK_EQ(load(0x2100, &e, &err), 0);
	CHECK(seg_loaded(&s[0], 0) && seg_loaded(&s[1], 1));
	collect(&e, s, 2);
	CHECK(pieces_ok());
	CHECK(e.rbx >= 0x110000); /* no room below: after the kernel */
	unlink(m1);
	unlink(m2);
}

static void test_mb_kernel_at_top_of_ram_modules_below(void)
{
	const struct seg s = {.paddr = RAM - 0x100000,
			      .vaddr = RAM - 0x100000,
			      .off = 0x1000,
			      .filesz = 0x100,
			      .memsz = 0x100000};
	struct hyve_err err = {0};
	struct boot_entry e;
	char m1[256], m2[256];

	reset();
	two_modules(m1, m2, sizeof(m1));
	elf_build(0, &s, 1, RAM - 0x100000);
	CHECK_EQ(load(0x1100, &e, &err), 0);
	CHECK(seg_loaded(&s, 0));
	collect(&e, &s, 1);
	CHECK(pieces_ok());
	/* Nothing is free after the kernel: the lowest place above 1 MiB. */
	CHECK_EQ(module_start(&e, 0), 0x100000);
	CHECK(e.rbx < BOOT_EBDA_START);
	CHECK(memcmp(at(module_start(&e, 1)), "module two", 10) == 0);
	unlink(m1);
	unlink(m2);
}

static void test_mb_modules_fill_ram_up_to_the_kernel(void)
{
	/* A module as large as all RAM between 1 MiB and the kernel at
	 * 16 MiB fits exactly; one page more does not. */
	const struct seg s = {.paddr = 16ULL << 20,
			      .vaddr = 16ULL << 20,
			      .off = 0x1000,
			      .filesz = 0x100,
			      .memsz = RAM - (16ULL << 20)};
	struct hyve_err err = {0};
	struct boot_entry e;
	char big[256];
	int fd;

	reset();
	snprintf(big, sizeof(big), "%s/big", tmpdir);
	fd = open(big, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	CHECK(fd >= 0 && ftruncate(fd, (off_t)(15ULL << 20)) == 0);
	close(fd);
	strcpy(cfg.modules[0].path, big);
	cfg.nr_modules = 1;
	elf_build(0, &s, 1, 16ULL << 20);
	CHECK_EQ(load(0x1100, &e, &err), 0);
	CHECK_EQ(module_start(&e, 0), 0x100000);
	collect(&e, &s, 1);
	CHECK(pieces_ok());

	fd = open(big, O_WRONLY | O_TRUNC);
	CHECK(fd >= 0 && ftruncate(fd, (off_t)(15ULL << 20) + 1) == 0);
	close(fd);
	CHECK(load(0x1100, &e, &err) < 0);
	CHECK(strstr(err.msg, big) && strstr(err.msg, "do not fit"));
	unlink(big);
}

int main(void)
{
	if (mb_image_setup())
		return 1;
	RUN_TEST(test_mb_kernel_at_0x8000_boots_with_its_info);
	RUN_TEST(test_mb_kernel_over_all_low_memory);
	RUN_TEST(test_mb_kernel_at_top_of_ram_modules_below);
	RUN_TEST(test_mb_modules_fill_ram_up_to_the_kernel);
	mb_image_teardown();
	return CHECK_DONE();
}
