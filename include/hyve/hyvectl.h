/* hyvectl(8) subcommands. */
#ifndef HYVE_HYVECTL_H
#define HYVE_HYVECTL_H

/* `hyvectl snapshot inspect|verify ...`; argv[0] is "snapshot". */
int hyvectl_snapshot_main(int argc, char **argv);
/* `hyvectl --vm=NAME|--socket=PATH --status|--pause|...`: one request to a
 * running hyve (src/cli/hyvectl_control.c).  Returns the exit status. */
int hyvectl_control_main(int argc, char **argv);

#endif
