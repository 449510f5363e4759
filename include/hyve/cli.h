/* Command-line parsing for hyve(8), kept apart from main() so that the
 * rejection cases can be unit-tested. */
#ifndef HYVE_CLI_H
#define HYVE_CLI_H

#include <stdio.h>

#include "hyve/config.h"
#include "hyve/err.h"

struct hyve_options {
	struct vm_config cfg;
	unsigned selftest_pause; /* --selftest-pause=N: N pause/resume cycles */
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
