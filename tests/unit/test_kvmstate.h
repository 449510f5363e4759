/* Helpers shared by the test_kvmstate_*.c tests: a seeded PRNG and a
 * generic check that a state table describes its struct completely. */
#ifndef HYVE_TEST_KVMSTATE_H
#define HYVE_TEST_KVMSTATE_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "hyve/state.h"

static uint64_t kvmstate_rng = 0x9e3779b97f4a7c15ull;

static inline uint64_t rnd64(void)
{
	/* xorshift64*: reproducible across runs, good enough for fields. */
	kvmstate_rng ^= kvmstate_rng >> 12;
	kvmstate_rng ^= kvmstate_rng << 25;
	kvmstate_rng ^= kvmstate_rng >> 27;
	return kvmstate_rng * 0x2545f4914f6cdd1dull;
}

static inline uint32_t rnd32(void)
{
	return (uint32_t)(rnd64() >> 32);
}

static inline uint8_t rnd8(void)
{
	return (uint8_t)(rnd64() >> 56);
}

static inline uint8_t rndbit(void)
{
	return (uint8_t)(rnd64() >> 63);
}

/* Counts, per byte of the struct, how many fields of desc cover it
 * (recursing into nested structs; a VARCOUNT's count member counts).
 * Returns 0, or -1 if a field lies outside the struct or a nested
 * description's size disagrees with its field. */
static inline int kvmstate_mark(const struct state_desc *d, size_t base,
			 unsigned char *map, size_t map_size)
{
	for (const struct state_field *f = d->fields; f->name; f++) {
		if (base + f->offset + (size_t)f->count * f->size > map_size)
			return -1;
		if (f->type == FT_STRUCT && (!f->sub || f->sub->size != f->size))
			return -1;
		for (uint32_t i = 0; i < f->count; i++) {
			size_t off = base + f->offset + (size_t)i * f->size;

			if (f->type == FT_STRUCT) {
				if (kvmstate_mark(f->sub, off, map, map_size) < 0)
					return -1;
			} else {
				for (size_t b = 0; b < f->size; b++)
					map[off + b]++;
			}
		}
		if (f->flags & FF_VARCOUNT)
			for (size_t b = 0; b < sizeof(uint32_t); b++)
				map[base + f->count_offset + b]++;
	}
	return 0;
}

/* The table is well formed: fields inside the struct, no byte described
 * twice, unique names per level, and every byte that `encode` reads is
 * described: flipping any byte the table does not cover (padding) must
 * leave encode's output unchanged.  `sample` is a valid state (bools 0/1).
 * Flipping bit 0 keeps a bool valid. */
typedef void (*kvmstate_encode_fn)(const void *state, void *out);

static inline void kvmstate_check_desc(const struct state_desc *d, const void *sample,
				kvmstate_encode_fn encode, size_t out_size)
{
	unsigned char *map = calloc(1, d->size);
	unsigned char *copy = malloc(d->size);
	unsigned char *out1 = malloc(out_size), *out2 = malloc(out_size);

	CHECK(map && copy && out1 && out2);
	if (!map || !copy || !out1 || !out2)
		goto out;
	CHECK(kvmstate_mark(d, 0, map, d->size) == 0);
	for (size_t i = 0; i < d->size; i++)
		CHECK(map[i] <= 1);
	for (const struct state_field *f = d->fields; f->name; f++)
		for (const struct state_field *g = f + 1; g->name; g++)
			CHECK(strcmp(f->name, g->name) != 0);
	memset(out1, 0, out_size);
	encode(sample, out1);
	for (size_t i = 0; i < d->size; i++) {
		if (map[i])
			continue;
		memcpy(copy, sample, d->size);
		copy[i] ^= 1;
		memset(out2, 0, out_size);
		encode(copy, out2);
		if (memcmp(out1, out2, out_size) != 0) {
			printf("  byte %zu of %s is used by encode but not in its state table\n",
			       i, d->name);
			CHECK(!"state table misses a member");
			break;
		}
	}
out:
	free(map);
	free(copy);
	free(out1);
	free(out2);
}

#endif
