/* Registry of device types (filled by DEVICE_TYPE_REGISTER constructors). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hyve/device.h"

#define DEVICE_TYPES_MAX 64

static const struct device_type *device_types[DEVICE_TYPES_MAX];
static unsigned nr_device_types;

void device_type_register(const struct device_type *type)
{
	if (nr_device_types == DEVICE_TYPES_MAX || device_type_find(type->name)) {
		/* A build error in disguise: two types with one name, or far
		 * more types than hyve has. Runs before main, so say it. */
		fprintf(stderr, "hyve: device type '%s' registered twice or too many types\n", type->name);
		abort();
	}
	device_types[nr_device_types++] = type;
}

const struct device_type *device_type_find(const char *name)
{
	for (unsigned i = 0; i < nr_device_types; i++)
		if (strcmp(device_types[i]->name, name) == 0)
			return device_types[i];
	return NULL;
}

const struct device_type *device_type_at(unsigned index)
{
	return index < nr_device_types ? device_types[index] : NULL;
}
