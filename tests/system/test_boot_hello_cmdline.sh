#!/usr/bin/env bash
# A Multiboot guest boots and prints its command line exactly: the kernel
# path, a space, then --cmdline, as other Multiboot loaders pass it; then
# writes 0 to the debug-exit port (status 1).  Covers the ELF64 and the
# a.out-kludge forms, the file console backend, and debug-exit being off
# by default.
. "$(dirname "$0")/lib.sh"
sys_init boot_hello_elf_cmdline_echo boot_hello_aout_kludge_cmdline_echo boot_hello_no_cmdline_is_path \
	boot_hello_console_to_file boot_debug_exit_off_by_default

cp "$(guest hello)" "$SYS_TMP/g.elf"
cp "$GUEST_BUILD/hello.aout.bin" "$SYS_TMP/g.bin"
cd "$SYS_TMP" || exit 1

# the issue's "done when" command, verbatim
hyve_run --debug-exit --kernel g.elf --cmdline "a=b c" -l com1,stdio "$VM"
expect_run boot_hello_elf_cmdline_echo 1 "g.elf a=b c"

hyve_run --debug-exit --kernel g.bin --cmdline "console=ttyS0 x=1" -l com1,stdio "$VM"
expect_run boot_hello_aout_kludge_cmdline_echo 1 "g.bin console=ttyS0 x=1"

# without --cmdline the guest still gets a valid string: the kernel path
hyve_run --debug-exit --kernel "$SYS_TMP/g.elf" -l com1,stdio "$VM"
if [ "$HYVE_STATUS" = 1 ] && { out_has_line "$SYS_TMP/g.elf" || out_has_line "$SYS_TMP/g.elf "; }; then
	pass boot_hello_no_cmdline_is_path
else
	fail boot_hello_no_cmdline_is_path "expected the line '$SYS_TMP/g.elf' and status 1, got $(hyve_summary)"
	dump_run boot_hello_no_cmdline_is_path
fi

rm -f console.txt
hyve_run --debug-exit --kernel g.elf --cmdline "to a file" -l com1,file=console.txt "$VM"
if [ "$HYVE_STATUS" = 1 ] && [ -f console.txt ] && tr -d '\r' <console.txt | grep -qxF "g.elf to a file"; then
	if [ -s "$HYVE_OUT" ] && grep -qF "to a file" "$HYVE_OUT"; then
		fail boot_hello_console_to_file "the guest's output also went to stdout"
	else
		pass boot_hello_console_to_file
	fi
else
	fail boot_hello_console_to_file "expected console.txt to hold 'g.elf to a file' and status 1, got $(hyve_summary)"
	dump_run boot_hello_console_to_file
fi

# no --debug-exit: the write to 0xf4 goes nowhere and the guest then halts
# with interrupts off (exit_guest's fallback), so hyve reports a halt
hyve_run --kernel g.elf --cmdline "x" -l com1,stdio "$VM"
expect_run boot_debug_exit_off_by_default 2 "g.elf x"
sys_done
