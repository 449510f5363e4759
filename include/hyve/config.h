/* What the command line (or a snapshot's machine description) asks for. */
#ifndef HYVE_CONFIG_H
#define HYVE_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#define HYVE_MAX_VCPUS 64
#define HYVE_MAX_MODULES 16
#define HYVE_MAX_SLOTS 32
#define HYVE_NR_COM 2

enum serial_backend { SERIAL_NONE = 0, SERIAL_STDIO, SERIAL_FILE };

struct serial_config {
	enum serial_backend backend;
	char path[4096]; /* SERIAL_FILE */
};

struct module_config {
	char path[4096];
	char args[1024];
};

/* -s slot[:func],emulation[,conf] */
struct slot_config {
	unsigned slot, func;
	char emulation[32];
	char conf[256];
};

struct vm_config {
	char name[64];
	unsigned nr_vcpus;
	uint64_t mem_size;
	char kernel[4096];
	char initrd[4096];
	char cmdline[4096];
	bool cmdline_set;
	unsigned nr_modules;
	struct module_config modules[HYVE_MAX_MODULES];
	struct serial_config com[HYVE_NR_COM];
	unsigned nr_slots;
	struct slot_config slots[HYVE_MAX_SLOTS];
	bool debug_exit;
	bool rtc_utc;           /* -u: RTC keeps UTC */
	char control_path[4096];/* --control; default /run/hyve/NAME.sock */
	char restore_path[4096];/* -r */
	bool restore_wallclock;
};

void vm_config_defaults(struct vm_config *cfg);

#endif
