/* Ends the VM in the way the command line asks, to check the VMM's exit
 * statuses:
 *   action=debugexit value=V   outl V to port 0xf4: status (V << 1) | 1
 *   action=triple              #UD with an empty IDT: triple fault (3)
 *   action=cf9                 reset through port 0xCF9 (0)
 *   action=kbd                 8042 pulse: 0xFE to port 0x64 (0)
 *   action=halt [cpus=N]       cli; hlt on every CPU (2)
 *   action=halt_one cpus=2     the BSP halts with interrupts off while an AP
 *                              keeps running and then writes debug-exit 0 (1)
 *   action=fault               a ring-0 #UD: the library's fatal path
 *   action=double              a push to an unmapped stack: the #PF cannot
 *                              be delivered, the #DF runs on IST1 (67)
 */
#include "guest.h"

static volatile u32 parked;

static void ap_park(unsigned index)
{
	(void)index;
	__atomic_add_fetch(&parked, 1, __ATOMIC_SEQ_CST);
	for (;;)
		__asm__ volatile("cli; hlt");
}

static __attribute__((noreturn)) void triple_fault(void)
{
	struct {
		u16 limit;
		u64 base;
	} __attribute__((packed)) empty = {0, 0};

	/* #UD cannot be delivered, nor can the #DF that follows: shutdown */
	__asm__ volatile("lidt %0; ud2" : : "m"(empty));
	__builtin_unreachable();
}

/* Runs (in ring 0, slowly) for ~300 ms after the BSP halted, then exits. */
static void ap_exit_later(unsigned index)
{
	(void)index;
	__atomic_add_fetch(&parked, 1, __ATOMIC_SEQ_CST);
	tsc_delay_us(300000);
	exit_guest(GUEST_EXIT_PASS);
}

int guest_main(void)
{
	char action[16];
	unsigned cpus = (unsigned)mb_arg_u64("cpus", 1);

	if (!mb_arg("action", action, sizeof(action)))
		guest_fail("no action= on the command line");
	bool halt_one = !strcmp(action, "halt_one");
	if (halt_one && cpus < 2)
		guest_fail("action=halt_one needs cpus=2 or more");
	if (cpus > 1) {
		unsigned up =
		    smp_boot(cpus, halt_one ? ap_exit_later : ap_park, 5000);
		if (up != cpus)
			guest_fail("expected %u CPUs, %u came up", cpus, up);
		while (parked != cpus - 1)
			cpu_relax();
	}
	gprintf("exits: %s\n", action);
	if (!strcmp(action, "debugexit")) {
		exit_guest((u32)mb_arg_u64("value", 0));
	} else if (!strcmp(action, "triple")) {
		triple_fault();
	} else if (!strcmp(action, "cf9")) {
		outb(0xCF9,
		     0x02); /* select hard reset, then trigger (RST_CPU) */
		outb(0xCF9, 0x06);
	} else if (!strcmp(action, "kbd")) {
		outb(0x64,
		     0xFE); /* 8042 command: pulse output line 0 (CPU reset) */
	} else if (!strcmp(action, "halt") || halt_one) {
		for (;;)
			__asm__ volatile("cli; hlt");
	} else if (!strcmp(action, "fault")) {
		__asm__ volatile("ud2");
	} else if (!strcmp(action, "double")) {
		/* 1 TiB is outside the identity map (only the first 4 GiB) */
		__asm__ volatile("mov $0x10000000000, %%rsp; pushq $0"
				 :
				 :
				 : "memory");
	} else {
		guest_fail("unknown action=%s", action);
	}
	/* still here: the reset did not happen */
	tsc_delay_us(100000);
	guest_fail("action=%s did not end the VM", action);
}
