/* Prints its Multiboot command line exactly, on a line of its own, then
 * writes 0 to the debug-exit port (hyve --debug-exit: status 1). */
#include "guest.h"

int guest_main(void)
{
	const char *cmdline = mb_cmdline();

	if (!cmdline)
		guest_fail(
		    "the loader gave no command line (Multiboot flag bit 2)");
	gprintf("%s\n", cmdline);
	return GUEST_EXIT_PASS;
}
