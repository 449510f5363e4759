/* hyvectl(8): talks to a running hyve over its control socket, and reads
 * snapshot files without any device code. */
#include <stdio.h>
#include <string.h>

#include "hyve/cli.h"
#include "hyve/hyvectl.h"

static void hyvectl_usage(FILE *out)
{
	fprintf(out,
		"usage: hyvectl --vm=NAME | --socket=PATH ACTION [--json] [--timeout=SECONDS]\n"
		"  ACTION is one of:\n"
		"    --status                    name, state (running, paused, sleeping), vCPUs,\n"
		"                                memory, uptime, pid, version\n"
		"    --pause | --resume          stop or restart every vCPU\n"
		"    --checkpoint=PATH [--note=TEXT]\n"
		"                                save a snapshot; the guest then runs on\n"
		"        [--incremental-from=BASE] only the pages written since BASE, this hyve's\n"
		"                                previous checkpoint (restore with hyve -r PATH)\n"
		"        [--live]                copy RAM while the guest runs, pause only at the end\n"
		"    --suspend=PATH              save a snapshot; hyve then exits with status 0\n"
		"    --wake                      wake a guest sleeping in ACPI S3\n"
		"    --powerdown                 press the ACPI power button (wakes a sleeping guest)\n"
		"    --quit                      power off; hyve exits with status 1\n"
		"  --vm=NAME talks to /run/hyve/NAME.sock (see hyvectl(8)).\n"
		"       hyvectl snapshot inspect PATH [--json]\n"
		"       hyvectl snapshot verify PATH\n"
		"       hyvectl snapshot merge DIFF OUT\n"
		"       hyvectl --version | --help\n"
		"Exit status: 0 done, 1 refused or failed, 2 usage error.\n");
}

int main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "snapshot") == 0)
		return hyvectl_snapshot_main(argc - 1, argv + 1);
	if (argc == 2 && (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0)) {
		printf("hyvectl %s\n", HYVE_VERSION);
		return 0;
	}
	if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		hyvectl_usage(stdout);
		return 0;
	}
	if (argc < 2) {
		hyvectl_usage(stderr);
		return 2;
	}
	return hyvectl_control_main(argc, argv);
}
