/* The 8254 PIT (ports 0x40-0x43) and the port 0x61 speaker bits, kept by
 * KVM (KVM_GET_PIT2 / KVM_SET_PIT2), as named fields.  See src/dev/pit.c. */
#ifndef HYVE_DEV_PIT_H
#define HYVE_DEV_PIT_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stdint.h>

#include "hyve/err.h"
#include "hyve/state.h"

#define PIT_CHANNELS 3
/* KVM's "never programmed" mode after reset: the channel does not count. */
#define PIT_MODE_UNPROGRAMMED 0xff

/* Access states of KVM's model (also rw_mode, count_latched values). */
#define PIT_RW_LSB 1
#define PIT_RW_MSB 2
#define PIT_RW_WORD0 3
#define PIT_RW_WORD1 4

struct pit_channel_state {
	uint32_t count;          /* reload value, 1..65536 (0 is written as 65536) */
	uint16_t latched_count;  /* value captured by a counter-latch command */
	uint8_t count_latched;   /* 0, or which byte(s) of latched_count remain */
	bool status_latched;     /* a read-back status byte is pending */
	uint8_t status;          /* the latched status byte */
	uint8_t read_state;      /* next byte a read returns: 0 or PIT_RW_* */
	uint8_t write_state;     /* next byte a write loads: 0 or PIT_RW_* */
	uint8_t write_latch;     /* low byte held between two word writes */
	uint8_t rw_mode;         /* control word bits 4-5: 0 (reset), 1-3 */
	uint8_t mode;            /* 0-5, or PIT_MODE_UNPROGRAMMED */
	bool bcd;                /* control word bit 0 (KVM counts binary) */
	bool gate;               /* GATE input; channel 2's is port 0x61 bit 0 */
	/* When `count` was loaded, on the VM clock (KVM_GET_CLOCK ns), so it
	 * means the same after a restore on another host.  KVM's own value is
	 * a host CLOCK_MONOTONIC time; see pit.c for what KVM does with it. */
	int64_t count_load_vm_ns;
};

struct pit_state {
	struct pit_channel_state channels[PIT_CHANNELS];
	bool hpet_legacy;     /* HPET legacy replacement: channel 0 stops */
	bool speaker_data_on; /* port 0x61 bit 1 (speaker data enable) */
};

extern const struct state_desc pit_state_desc;

/* vm_minus_host_ns = VM clock - host CLOCK_MONOTONIC, read together at
 * the moment of the conversion; the conversions are exact inverses. */
void pit_decode(const struct kvm_pit_state2 *k, struct pit_state *s,
		int64_t vm_minus_host_ns);
void pit_encode(const struct pit_state *s, struct kvm_pit_state2 *k,
		int64_t vm_minus_host_ns);
int pit_check(const struct pit_state *s, struct hyve_err *err);

int pit_read(int vm_fd, struct pit_state *s, struct hyve_err *err);
int pit_write(int vm_fd, const struct pit_state *s, struct hyve_err *err);

#endif
