/* hyve's command line, shaped like bhyve(8). */
#include <getopt.h>
#include <stddef.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hyve/cli.h"
#include "hyve/mem.h"

enum {
	OPT_KERNEL = 0x100,
	OPT_INITRD,
	OPT_CMDLINE,
	OPT_MODULE,
	OPT_DEBUG_EXIT,
	OPT_CONTROL,
	OPT_RESTORE_WALLCLOCK,
	OPT_RESTORE_MODE,
	OPT_SELFTEST_PAUSE,
};

void hyve_usage(FILE *out)
{
	fprintf(out,
		"usage: hyve [-c vcpus] [-m size[K|M|G]] [-l com1,stdio|com1,file=PATH|com2,...] [-u]\n"
		"            [-s slot[:func],emulation[,conf]] [--kernel PATH] [--initrd PATH]\n"
		"            [--cmdline STR] [--module PATH[,args]] [--debug-exit] [--control PATH] NAME\n"
		"       hyve -r SNAPSHOT [--restore-wallclock] [--restore-mode=lazy|prefault|eager]\n"
		"            [options] [NAME]\n"
		"exit status: 0 rebooted, 1 powered off, 2 halted, 3 triple fault, 4 error,\n"
		"             (V<<1)|1 when the guest writes V to the debug-exit port\n");
}

static int args_copy(char *dst, size_t cap, const char *src, const char *what, struct hyve_err *err)
{
	if (strlen(src) >= cap)
		return err_set(err, ENAMETOOLONG, "%s is too long (at most %zu bytes)", what, cap - 1);
	memcpy(dst, src, strlen(src) + 1);
	return 0;
}

/* -l com1,stdio | com1,file=PATH | com2,none */
static int args_serial(struct hyve_options *opts, const char *arg, struct hyve_err *err)
{
	struct vm_config *cfg = &opts->cfg;
	const char *comma = strchr(arg, ',');
	struct serial_config *com;
	size_t n = comma ? (size_t)(comma - arg) : strlen(arg);

	if (n == 4 && strncmp(arg, "com1", 4) == 0)
		com = &cfg->com[0];
	else if (n == 4 && strncmp(arg, "com2", 4) == 0)
		com = &cfg->com[1];
	else
		return err_set(err, EINVAL, "-l %s: unknown device (com1 or com2)", arg);
	opts->given_com[com == &cfg->com[1]] = true;
	if (!comma || strcmp(comma + 1, "stdio") == 0) {
		com->backend = SERIAL_STDIO;
		return 0;
	}
	if (strcmp(comma + 1, "none") == 0) {
		com->backend = SERIAL_NONE;
		return 0;
	}
	if (strncmp(comma + 1, "file=", 5) == 0 && comma[6]) {
		com->backend = SERIAL_FILE;
		return args_copy(com->path, sizeof(com->path), comma + 6, "-l file path", err);
	}
	return err_set(err, EINVAL, "-l %s: unknown backend (stdio, file=PATH or none)", arg);
}

static int args_module(struct vm_config *cfg, const char *arg, struct hyve_err *err)
{
	struct module_config *mod;
	const char *comma = strchr(arg, ',');
	size_t n = comma ? (size_t)(comma - arg) : strlen(arg);

	if (cfg->nr_modules == HYVE_MAX_MODULES)
		return err_set(err, E2BIG, "--module: at most %d modules", HYVE_MAX_MODULES);
	if (n == 0)
		return err_set(err, EINVAL, "--module: empty path");
	mod = &cfg->modules[cfg->nr_modules];
	if (n >= sizeof(mod->path))
		return err_set(err, ENAMETOOLONG, "--module path is too long");
	memcpy(mod->path, arg, n);
	mod->path[n] = '\0';
	if (comma && args_copy(mod->args, sizeof(mod->args), comma + 1, "--module arguments", err))
		return -ENAMETOOLONG;
	cfg->nr_modules++;
	return 0;
}

/* -s slot[:func],emulation[,conf] */
static int args_slot(struct vm_config *cfg, const char *arg, struct hyve_err *err)
{
	struct slot_config *s;
	char *end;
	const char *p = arg, *comma;
	unsigned long v;

	if (cfg->nr_slots == HYVE_MAX_SLOTS)
		return err_set(err, E2BIG, "-s: at most %d slots", HYVE_MAX_SLOTS);
	s = &cfg->slots[cfg->nr_slots];
	memset(s, 0, sizeof(*s));
	v = strtoul(p, &end, 10);
	if (end == p || v > 31)
		return err_set(err, EINVAL, "-s %s: slot must be 0..31", arg);
	s->slot = (unsigned)v;
	if (*end == ':') {
		p = end + 1;
		v = strtoul(p, &end, 10);
		if (end == p || v > 7)
			return err_set(err, EINVAL, "-s %s: function must be 0..7", arg);
		s->func = (unsigned)v;
	}
	if (*end != ',' || !end[1])
		return err_set(err, EINVAL, "-s %s: expected slot[:func],emulation[,conf]", arg);
	p = end + 1;
	comma = strchr(p, ',');
	if ((size_t)(comma ? comma - p : (ptrdiff_t)strlen(p)) >= sizeof(s->emulation))
		return err_set(err, EINVAL, "-s %s: emulation name too long", arg);
	memcpy(s->emulation, p, comma ? (size_t)(comma - p) : strlen(p));
	if (comma && args_copy(s->conf, sizeof(s->conf), comma + 1, "-s configuration", err))
		return -ENAMETOOLONG;
	for (unsigned i = 0; i < cfg->nr_slots; i++)
		if (cfg->slots[i].slot == s->slot && cfg->slots[i].func == s->func)
			return err_set(err, EEXIST, "-s %s: slot %u:%u is used twice", arg, s->slot, s->func);
	cfg->nr_slots++;
	return 0;
}

int hyve_parse_args(int argc, char **argv, struct hyve_options *opts, struct hyve_err *err)
{
	static const struct option longopts[] = {
		{ "kernel", required_argument, NULL, OPT_KERNEL },
		{ "initrd", required_argument, NULL, OPT_INITRD },
		{ "cmdline", required_argument, NULL, OPT_CMDLINE },
		{ "module", required_argument, NULL, OPT_MODULE },
		{ "debug-exit", no_argument, NULL, OPT_DEBUG_EXIT },
		{ "control", required_argument, NULL, OPT_CONTROL },
		{ "restore", required_argument, NULL, 'r' },
		{ "restore-wallclock", no_argument, NULL, OPT_RESTORE_WALLCLOCK },
		{ "restore-mode", required_argument, NULL, OPT_RESTORE_MODE },
		{ "selftest-pause", required_argument, NULL, OPT_SELFTEST_PAUSE },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct vm_config *cfg = &opts->cfg;
	int c, ret = 0;
	char *end;
	unsigned long v;

	memset(opts, 0, sizeof(*opts));
	vm_config_defaults(cfg);
	optind = 1;
	opterr = 0;
	while (ret == 0 && (c = getopt_long(argc, argv, ":c:m:l:s:r:uhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			errno = 0;
			v = strtoul(optarg, &end, 10);
			if (errno || end == optarg || *end || v == 0 || v > HYVE_MAX_VCPUS)
				ret = err_set(err, EINVAL, "-c %s: vCPU count must be 1..%d", optarg, HYVE_MAX_VCPUS);
			cfg->nr_vcpus = (unsigned)v;
			opts->given_vcpus = true;
			break;
		case 'm':
			ret = parse_size(optarg, &cfg->mem_size, err);
			if (ret)
				err_prefix(err, "-m: ");
			opts->given_mem = true;
			break;
		case 'l':
			ret = args_serial(opts, optarg, err);
			break;
		case 's':
			ret = args_slot(cfg, optarg, err);
			break;
		case 'r':
			ret = args_copy(cfg->restore_path, sizeof(cfg->restore_path), optarg, "-r path", err);
			break;
		case 'u':
			cfg->rtc_utc = true;
			break;
		case OPT_KERNEL:
			ret = args_copy(cfg->kernel, sizeof(cfg->kernel), optarg, "--kernel path", err);
			opts->given_kernel = true;
			break;
		case OPT_INITRD:
			ret = args_copy(cfg->initrd, sizeof(cfg->initrd), optarg, "--initrd path", err);
			opts->given_initrd = true;
			break;
		case OPT_CMDLINE:
			ret = args_copy(cfg->cmdline, sizeof(cfg->cmdline), optarg, "--cmdline", err);
			cfg->cmdline_set = true;
			opts->given_cmdline = true;
			break;
		case OPT_MODULE:
			ret = args_module(cfg, optarg, err);
			break;
		case OPT_DEBUG_EXIT:
			cfg->debug_exit = true;
			break;
		case OPT_CONTROL:
			ret = args_copy(cfg->control_path, sizeof(cfg->control_path), optarg, "--control path", err);
			break;
		case OPT_RESTORE_WALLCLOCK:
			cfg->restore_wallclock = true;
			break;
		case OPT_RESTORE_MODE:
			if (strcmp(optarg, "lazy") == 0)
				opts->restore_mode = HYVE_RESTORE_LAZY;
			else if (strcmp(optarg, "prefault") == 0)
				opts->restore_mode = HYVE_RESTORE_PREFAULT;
			else if (strcmp(optarg, "eager") == 0)
				opts->restore_mode = HYVE_RESTORE_EAGER;
			else
				ret = err_set(err, EINVAL, "--restore-mode %s: expected lazy, prefault or eager", optarg);
			break;
		case OPT_SELFTEST_PAUSE:
			v = strtoul(optarg, &end, 10);
			if (end == optarg || *end || v > 1000000)
				ret = err_set(err, EINVAL, "--selftest-pause %s: expected a count", optarg);
			opts->selftest_pause = (unsigned)v;
			break;
		case 'h':
			opts->help = true;
			return 0;
		case 'V':
			opts->version = true;
			return 0;
		case ':':
			ret = err_set(err, EINVAL, "option %s needs an argument", argv[optind - 1]);
			break;
		default:
			ret = err_set(err, EINVAL, "unknown option %s", argv[optind - 1]);
		}
	}
	if (ret)
		return ret;
	if (optind < argc)
		ret = args_copy(cfg->name, sizeof(cfg->name), argv[optind++], "VM name", err);
	if (ret)
		return ret;
	if (optind < argc)
		return err_set(err, EINVAL, "unexpected argument '%s' after the VM name", argv[optind]);
	if (!cfg->restore_path[0]) {
		if (opts->restore_mode != HYVE_RESTORE_LAZY)
			return err_set(err, EINVAL, "--restore-mode needs -r SNAPSHOT");
		if (!cfg->name[0])
			return err_set(err, EINVAL, "no VM name given (see hyve --help)");
		if (!cfg->kernel[0])
			return err_set(err, EINVAL, "no --kernel given (or -r SNAPSHOT to restore)");
	}
	for (const char *p = cfg->name; *p; p++)
		if (!(('a' <= *p && *p <= 'z') || ('A' <= *p && *p <= 'Z') || ('0' <= *p && *p <= '9') ||
		      *p == '-' || *p == '_' || *p == '.'))
			return err_set(err, EINVAL, "VM name '%s': use letters, digits, '-', '_', '.'", cfg->name);
	return 0;
}
