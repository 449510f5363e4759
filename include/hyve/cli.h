/* Command-line parsing for hyve(8), kept apart from main() so that the
 * rejection cases can be unit-tested. */
#ifndef HYVE_CLI_H
#define HYVE_CLI_H

#include <stdio.h>

#include "hyve/config.h"
#include "hyve/err.h"

/* How a restore brings in guest RAM (docs/hyve.8). */
enum hyve_restore_mode {
	HYVE_RESTORE_LAZY,     /* map the RAM file privately; pages load on first touch */
	HYVE_RESTORE_PREFAULT, /* lazy, plus a thread faulting pages in, in order */
	HYVE_RESTORE_EAGER,    /* copy into fresh memory, every digest checked */
};

struct hyve_options {
	struct vm_config cfg;
	unsigned selftest_pause; /* --selftest-pause=N: N pause/resume cycles */
	enum hyve_restore_mode restore_mode; /* --restore-mode */
	bool help;
	bool version;
	/* What was given explicitly (checked against a snapshot on restore). */
	bool given_vcpus, given_mem, given_kernel, given_initrd, given_cmdline;
	bool given_com[HYVE_NR_COM];
};

/* Parses argv into opts.  Returns 0, or a negative errno with err naming
 * the bad argument. */
int hyve_parse_args(int argc, char **argv, struct hyve_options *opts, struct hyve_err *err);
void hyve_usage(FILE *out);

#define HYVE_VERSION "0.1.0"

#endif
