/* hyvectl(8): talks to a running hyve over its control socket, and reads
 * snapshot files without any device code. */
#include <stdio.h>
#include <string.h>

#include "hyve/cli.h"
#include "hyve/hyvectl.h"

static void hyvectl_usage(FILE *out)
{
	fprintf(out,
		"usage: hyvectl snapshot inspect PATH [--json]\n"
		"       hyvectl snapshot verify PATH\n"
		"       hyvectl --version\n");
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
	hyvectl_usage(stderr);
	return 2;
}
