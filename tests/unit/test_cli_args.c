/* hyve's command line: what it accepts and the one-line refusals. */
#include "check.h"
#include "hyve/cli.h"

static int parse(struct hyve_options *o, struct hyve_err *err, const char *const *args)
{
	char *argv[32];
	int argc = 0;

	argv[argc++] = (char *)"hyve";
	while (*args)
		argv[argc++] = (char *)*args++;
	argv[argc] = NULL;
	err_clear(err);
	return hyve_parse_args(argc, argv, o, err);
}

static void args_accept_a_bhyve_shaped_command_line(void)
{
	static struct hyve_options o;
	struct hyve_err err = { 0 };
	const char *args[] = { "-c", "4", "-m", "1G", "-l", "com1,stdio", "-l", "com2,file=/tmp/x",
			       "--kernel", "k.elf", "--cmdline", "a=b c", "--module", "m.bin,x y",
			       "--debug-exit", "-u", "-s", "3:1,virtio-blk,/d.img", "vm1", NULL };

	CHECK_EQ(parse(&o, &err, args), 0);
	CHECK_EQ(o.cfg.nr_vcpus, 4);
	CHECK_EQ(o.cfg.mem_size, 1ULL << 30);
	CHECK_EQ(o.cfg.com[0].backend, SERIAL_STDIO);
	CHECK_EQ(o.cfg.com[1].backend, SERIAL_FILE);
	CHECK(strcmp(o.cfg.com[1].path, "/tmp/x") == 0);
	CHECK(strcmp(o.cfg.cmdline, "a=b c") == 0);
	CHECK_EQ(o.cfg.nr_modules, 1);
	CHECK(strcmp(o.cfg.modules[0].path, "m.bin") == 0);
	CHECK(strcmp(o.cfg.modules[0].args, "x y") == 0);
	CHECK(o.cfg.debug_exit);
	CHECK(o.cfg.rtc_utc);
	CHECK_EQ(o.cfg.nr_slots, 1);
	CHECK_EQ(o.cfg.slots[0].slot, 3);
	CHECK_EQ(o.cfg.slots[0].func, 1);
	CHECK(strcmp(o.cfg.slots[0].emulation, "virtio-blk") == 0);
	CHECK(strcmp(o.cfg.slots[0].conf, "/d.img") == 0);
	CHECK(strcmp(o.cfg.name, "vm1") == 0);
}

static void args_refuse_bad_input_with_a_named_reason(void)
{
	static struct hyve_options o;
	struct hyve_err err = { 0 };
	const char *no_name[] = { "--kernel", "k", NULL };
	const char *no_kernel[] = { "vm", NULL };
	const char *bad_c[] = { "-c", "0", "--kernel", "k", "vm", NULL };
	const char *big_c[] = { "-c", "65", "--kernel", "k", "vm", NULL };
	const char *bad_m[] = { "-m", "lots", "--kernel", "k", "vm", NULL };
	const char *bad_l[] = { "-l", "com3,stdio", "--kernel", "k", "vm", NULL };
	const char *bad_opt[] = { "--frobnicate", "vm", NULL };
	const char *missing_arg[] = { "vm", "-c", NULL };
	const char *extra[] = { "--kernel", "k", "vm", "junk", NULL };
	const char *bad_name[] = { "--kernel", "k", "a/b", NULL };
	const char *dup_slot[] = { "-s", "3,a", "-s", "3,b", "--kernel", "k", "vm", NULL };

	CHECK(parse(&o, &err, no_name) < 0 && strstr(err.msg, "name"));
	CHECK(parse(&o, &err, no_kernel) < 0 && strstr(err.msg, "--kernel"));
	CHECK(parse(&o, &err, bad_c) < 0 && strstr(err.msg, "-c"));
	CHECK(parse(&o, &err, big_c) < 0 && strstr(err.msg, "-c"));
	CHECK(parse(&o, &err, bad_m) < 0 && strstr(err.msg, "lots"));
	CHECK(parse(&o, &err, bad_l) < 0 && strstr(err.msg, "com3"));
	CHECK(parse(&o, &err, bad_opt) < 0 && strstr(err.msg, "frobnicate"));
	CHECK(parse(&o, &err, missing_arg) < 0 && strstr(err.msg, "-c"));
	CHECK(parse(&o, &err, extra) < 0 && strstr(err.msg, "junk"));
	CHECK(parse(&o, &err, bad_name) < 0 && strstr(err.msg, "a/b"));
	CHECK(parse(&o, &err, dup_slot) < 0 && strstr(err.msg, "twice"));
}

int main(void)
{
	RUN_TEST(args_accept_a_bhyve_shaped_command_line);
	RUN_TEST(args_refuse_bad_input_with_a_named_reason);
	return CHECK_DONE();
}
