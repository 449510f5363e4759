/* hyvectl(8) subcommands. */
#ifndef HYVE_HYVECTL_H
#define HYVE_HYVECTL_H

/* `hyvectl snapshot inspect|verify ...`; argv[0] is "snapshot". */
int hyvectl_snapshot_main(int argc, char **argv);

#endif
