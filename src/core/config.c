/* Defaults for a VM nobody described in detail. */
#include <string.h>

#include "hyve/config.h"

void vm_config_defaults(struct vm_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->nr_vcpus = 1;
	cfg->mem_size = 256ULL << 20;
	cfg->com[0].backend = SERIAL_NONE;
	cfg->com[1].backend = SERIAL_NONE;
}
