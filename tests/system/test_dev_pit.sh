#!/usr/bin/env bash
# The in-kernel PIT from a guest (tests/guest/dev_pit.c): channel 0 in mode 2
# on IRQ 0 through the 8259 (LINT0 ExtINT, IRQ 0 in the PIC's ISR in the
# handler) and through IOAPIC pin 2 (the MADT override; pin 0 silent), at
# 100 Hz and 1 kHz (and 18.2 Hz through the IOAPIC), rates against the TSC
# at kvmclock's rate; the counter latch and the read-back status.
. "$(dirname "$0")/lib.sh"
CASES=(dev_pit_latch_readback dev_pit_mode2_via_pic dev_pit_mode2_via_ioapic_pin2)
sys_init "${CASES[@]}"

hyve_run --timeout 60 --debug-exit -l com1,stdio --kernel "$(guest dev_pit)" vm-dev-pit$$
problem=$(run_problem 1)
for c in "${CASES[@]}"; do
	case $c in
	dev_pit_latch_readback) line="pit: latch ok" ;;
	dev_pit_mode2_via_pic) line="pit: pic ok" ;;
	dev_pit_mode2_via_ioapic_pin2) line="pit: ioapic ok" ;;
	esac
	if out_has_line "$line"; then
		pass "$c"
	else
		fail "$c" "${problem:-output lacks the line '$line'}"
		dump_run "$c"
	fi
done
sys_done
