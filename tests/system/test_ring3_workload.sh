#!/usr/bin/env bash
# Ring 3 runs natively on this host while ring 0 is emulated: a guest fills
# 64 MiB and checksums it at CPL 3 (IOPL 3, user pages), prints and does
# port I/O through the ud2 request path, and exits from ring 3.
. "$(dirname "$0")/lib.sh"
sys_init ring3_fill_64mib_checksum ring3_exit_request

hyve_run --debug-exit -l com1,stdio -m 256M --kernel "$(guest ring3)" --cmdline "mb=64" "$VM"
# the checksum line comes from CPL 3, "back in cpl 0" proves the return path
if tr -d '\r' <"$HYVE_OUT" | grep -qE '^ring3: cpl 3 filled and summed 64 MiB: 0x[0-9a-f]+$' &&
	tr -d '\r' <"$HYVE_OUT" | grep -qE '^ring3: back in cpl 0 after [0-9]+ Mcycles$'; then
	pass ring3_fill_64mib_checksum
else
	g=$(guest_failure)
	fail ring3_fill_64mib_checksum "no checksum report from CPL 3 and return to CPL 0 (got $(hyve_summary)${g:+; guest: $g})"
	dump_run ring3_fill_64mib_checksum
fi
expect_run ring3_exit_request 1 "ring3: exiting from cpl 3"
sys_done
