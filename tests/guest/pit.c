/* PIT channel 2 and the port 0x61 gate/output bits, as OSes use them to
 * calibrate the TSC: bit 5 must be low while the 10 ms count runs and go
 * high at its end, three times in a row, giving a TSC rate between
 * 100 MHz and 10 GHz (tsc_calibrate_pit checks that).  The values are not
 * compared with each other: on a loaded host the guest's polling loop can
 * be descheduled and one run comes out high. */
#include "guest.h"

int guest_main(void)
{
	u64 khz[3];

	for (int i = 0; i < 3; i++) {
		khz[i] = tsc_calibrate_pit();
		if (!khz[i])
			guest_fail("PIT channel 2: port 0x61 bit 5 did not "
				   "follow the 10 ms count (run %d)",
				   i);
	}
	gprintf("pit: tsc %lu %lu %lu kHz\n", khz[0], khz[1], khz[2]);
	return GUEST_EXIT_PASS;
}
