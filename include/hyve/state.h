/* Declarative state tables: what a device (or the vCPU, or the machine)
 * saves, by name and type, independent of any C struct layout.
 *
 * A device keeps the state of the hardware it models in a plain struct
 * (no pointers, locks, fds or host times).  A `struct state_desc` lists
 * that struct's fields with their wire names, types and the section
 * version each appeared in.  The snapshot codec (src/snap/fields.c) walks
 * the table: on save it writes every field by name and type; on load it
 * matches fields by name, gives fields newer than the file's section
 * version their declared default, and refuses unknown, mistyped or
 * mis-sized fields with a message naming them.
 *
 *   struct rtc_state { uint8_t cmos[128]; uint8_t index; int64_t base_ns; };
 *   static const struct state_field rtc_fields[] = {
 *           FIELD_BYTES(struct rtc_state, cmos, 1),
 *           FIELD_U8(struct rtc_state, index, 1),
 *           FIELD_I64_DEFAULT(struct rtc_state, base_ns, 2, 0),
 *           FIELD_END
 *   };
 *   const struct state_desc rtc_state_desc =
 *           STATE_DESC("rtc", struct rtc_state, 2, rtc_fields);
 *
 * The macros check the member's C type at compile time (_Generic), so a
 * table cannot silently disagree with its struct.
 */
#ifndef HYVE_STATE_H
#define HYVE_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum field_type {
	FT_U8 = 1,
	FT_U16,
	FT_U32,
	FT_U64,
	FT_I8,
	FT_I16,
	FT_I32,
	FT_I64,
	FT_BOOL,   /* C bool; one byte in memory, a boolean on the wire */
	FT_BYTES,  /* fixed-size opaque byte area (uint8_t[N]) */
	FT_STRING, /* char[N], NUL-terminated; the wire holds the text only */
	FT_STRUCT, /* nested struct described by `sub` */
};

enum field_flags {
	/* An unknown field with this flag, met in a newer file, is skipped
	 * instead of failing the load. (Set on the writer's side: the flag is
	 * carried on the wire.) */
	FF_OPTIONAL = 1u << 0,
	/* The number of elements saved is the uint32_t member at count_offset
	 * (bounded by `count`, the array's capacity); on load that member is
	 * set to the number of elements found. */
	FF_VARCOUNT = 1u << 1,
};

struct state_desc;

struct state_field {
	const char *name;     /* wire name: stable forever once released */
	enum field_type type;
	size_t offset;        /* offsetof(struct, member) */
	size_t size;          /* size of ONE element in memory */
	uint32_t count;       /* elements: 1 for a scalar, N for member[N] */
	uint16_t since;       /* section version this field first appeared in */
	uint16_t flags;       /* enum field_flags */
	size_t count_offset;  /* FF_VARCOUNT: offsetof the uint32_t count */
	const struct state_desc *sub; /* FT_STRUCT: element description */
	uint64_t def;         /* default for integer/bool scalars absent from an
	                       * older section; other types default to zeroes */
};

struct state_desc {
	const char *name;     /* section / struct name on the wire */
	uint16_t version;     /* current section version written by this hyve */
	uint16_t min_version; /* oldest section version this hyve still loads */
	size_t size;          /* sizeof the state struct */
	const struct state_field *fields; /* terminated by FIELD_END */
};

#define STATE_DESC(N, T, V, F)                                             \
	{                                                                  \
		.name = (N), .version = (V), .min_version = 1,             \
		.size = sizeof(T), .fields = (F)                           \
	}

#define STATE__MEMBER(T, M) (((T *)0)->M)
#define STATE__ELEM(T, M) (((T *)0)->M[0])
#define STATE__COUNT(T, M) (sizeof(STATE__MEMBER(T, M)) / sizeof(STATE__ELEM(T, M)))

/* _Generic fails to compile when the member's type is not `CT`.  (Macro
 * parameters are single capitals so they cannot capture designators such
 * as .type or .size.) */
#define STATE__OFF(T, M, CT) _Generic(STATE__MEMBER(T, M), CT : offsetof(T, M))
#define STATE__AOFF(T, M, CT) _Generic(STATE__ELEM(T, M), CT : offsetof(T, M))

#define STATE__SCALAR(T, M, FT, CT, S, D)                                  \
	{                                                                  \
		.name = #M, .type = (FT), .offset = STATE__OFF(T, M, CT),  \
		.size = sizeof(CT), .count = 1, .since = (S),              \
		.def = (uint64_t)(D)                                       \
	}
#define STATE__ARRAY(T, M, FT, CT, S)                                      \
	{                                                                  \
		.name = #M, .type = (FT), .offset = STATE__AOFF(T, M, CT), \
		.size = sizeof(CT), .count = STATE__COUNT(T, M), .since = (S) \
	}

#define FIELD_U8(t, m, s) STATE__SCALAR(t, m, FT_U8, uint8_t, s, 0)
#define FIELD_U16(t, m, s) STATE__SCALAR(t, m, FT_U16, uint16_t, s, 0)
#define FIELD_U32(t, m, s) STATE__SCALAR(t, m, FT_U32, uint32_t, s, 0)
#define FIELD_U64(t, m, s) STATE__SCALAR(t, m, FT_U64, uint64_t, s, 0)
#define FIELD_I8(t, m, s) STATE__SCALAR(t, m, FT_I8, int8_t, s, 0)
#define FIELD_I16(t, m, s) STATE__SCALAR(t, m, FT_I16, int16_t, s, 0)
#define FIELD_I32(t, m, s) STATE__SCALAR(t, m, FT_I32, int32_t, s, 0)
#define FIELD_I64(t, m, s) STATE__SCALAR(t, m, FT_I64, int64_t, s, 0)
#define FIELD_BOOL(t, m, s) STATE__SCALAR(t, m, FT_BOOL, bool, s, 0)

/* Same, with the value a field takes when loading a section older than
 * the version that introduced it. */
#define FIELD_U8_DEFAULT(t, m, s, d) STATE__SCALAR(t, m, FT_U8, uint8_t, s, d)
#define FIELD_U16_DEFAULT(t, m, s, d) STATE__SCALAR(t, m, FT_U16, uint16_t, s, d)
#define FIELD_U32_DEFAULT(t, m, s, d) STATE__SCALAR(t, m, FT_U32, uint32_t, s, d)
#define FIELD_U64_DEFAULT(t, m, s, d) STATE__SCALAR(t, m, FT_U64, uint64_t, s, d)
#define FIELD_I64_DEFAULT(t, m, s, d) STATE__SCALAR(t, m, FT_I64, int64_t, s, d)
#define FIELD_BOOL_DEFAULT(t, m, s, d) STATE__SCALAR(t, m, FT_BOOL, bool, s, d)

/* Fixed arrays of integers: uint32_t regs[8] -> FIELD_ARRAY_U32(t, regs, 1) */
#define FIELD_ARRAY_U8(t, m, s) STATE__ARRAY(t, m, FT_U8, uint8_t, s)
#define FIELD_ARRAY_U16(t, m, s) STATE__ARRAY(t, m, FT_U16, uint16_t, s)
#define FIELD_ARRAY_U32(t, m, s) STATE__ARRAY(t, m, FT_U32, uint32_t, s)
#define FIELD_ARRAY_U64(t, m, s) STATE__ARRAY(t, m, FT_U64, uint64_t, s)
#define FIELD_ARRAY_BOOL(t, m, s) STATE__ARRAY(t, m, FT_BOOL, bool, s)

/* uint8_t member[N]: one opaque byte string of N bytes. */
#define FIELD_BYTES(t, m, s)                                               \
	{                                                                  \
		.name = #m, .type = FT_BYTES,                              \
		.offset = STATE__AOFF(t, m, uint8_t),                      \
		.size = sizeof(STATE__MEMBER(t, m)), .count = 1,           \
		.since = (s)                                               \
	}

/* char member[N]: a text string of at most N-1 bytes. */
#define FIELD_STRING(t, m, s)                                              \
	{                                                                  \
		.name = #m, .type = FT_STRING,                             \
		.offset = STATE__AOFF(t, m, char),                         \
		.size = sizeof(STATE__MEMBER(t, m)), .count = 1,           \
		.since = (s)                                               \
	}

/* A nested struct, or a fixed array of them (etype member[N]). */
#define FIELD_STRUCT(t, m, etype, desc, s)                                 \
	{                                                                  \
		.name = #m, .type = FT_STRUCT,                             \
		.offset = STATE__OFF(t, m, etype), .size = sizeof(etype),  \
		.count = 1, .since = (s), .sub = &(desc)                   \
	}
#define FIELD_STRUCT_ARRAY(t, m, etype, desc, s)                           \
	{                                                                  \
		.name = #m, .type = FT_STRUCT,                             \
		.offset = STATE__AOFF(t, m, etype), .size = sizeof(etype), \
		.count = STATE__COUNT(t, m), .since = (s), .sub = &(desc)  \
	}
/* etype member[N] with a uint32_t count member saying how many are used. */
#define FIELD_STRUCT_VARRAY(t, m, etype, desc, cnt, s)                     \
	{                                                                  \
		.name = #m, .type = FT_STRUCT,                             \
		.offset = STATE__AOFF(t, m, etype), .size = sizeof(etype), \
		.count = STATE__COUNT(t, m), .since = (s),                 \
		.flags = FF_VARCOUNT,                                      \
		.count_offset = STATE__OFF(t, cnt, uint32_t), .sub = &(desc) \
	}

#define FIELD_END                                                          \
	{                                                                  \
		.name = NULL                                               \
	}

#endif
