#!/usr/bin/env bash
# Multiboot kernels that load anywhere in RAM (tests/guest/mbinfo.c linked
# three ways: lib/guest-low.ld at 0x8000, lib/guest.ld at 1 MiB,
# lib/guest-high.ld just below the PCI hole at 3 GiB): each boots, finds its
# information structure, memory map and modules intact, wherever hyve had
# to put them; modules follow the kernel, high up when the kernel is high.
# A segment over the BIOS area or past RAM is refused, naming both ranges.
. "$(dirname "$0")/lib.sh"
sys_init boot_kernel_at_0x8000_sees_its_info boot_kernel_at_1mib_sees_its_info \
	boot_kernel_below_pci_hole_sees_its_info boot_modules_placed_high_after_a_high_kernel \
	boot_refuses_segment_over_bios_area boot_refuses_segment_past_ram

head -c 70000 /dev/urandom >"$SYS_TMP/mod0.bin"
printf 'x' >"$SYS_TMP/mod1.bin"
head -c 4096 /dev/urandom >"$SYS_TMP/small.bin"
head -c $((1 << 20)) /dev/urandom >"$SYS_TMP/big.bin"
MOD_LINES=("mbinfo: module 0 size 70000 fnv1a $(fnv1a "$SYS_TMP/mod0.bin") cmdline '$SYS_TMP/mod0.bin alpha=1 beta'"
	"mbinfo: module 1 size 1 fnv1a $(fnv1a "$SYS_TMP/mod1.bin") cmdline '$SYS_TMP/mod1.bin'"
	"mbinfo: 2 modules")
MODS=(--module "$SYS_TMP/mod0.bin,alpha=1 beta" --module "$SYS_TMP/mod1.bin")
MAP_256M=("mbinfo: mem_lower 639 mem_upper 261120" "mbinfo: mmap 0x0 0x9fc00 1"
	"mbinfo: mmap 0x9fc00 0x60400 2" "mbinfo: mmap 0x100000 0xff00000 1")
MAP_4G=("mbinfo: mem_lower 639 mem_upper 3144704" "mbinfo: mmap 0x100000 0xbff00000 1"
	"mbinfo: mmap 0x100000000 0x40000000 1")

# image_base: where the guest says it was linked.
image_base() { tr -d '\r' <"$HYVE_OUT" | sed -n 's/^mbinfo: image \(0x[0-9a-f]*\)-.*/\1/p'; }
image_end() { tr -d '\r' <"$HYVE_OUT" | sed -n 's/^mbinfo: image 0x[0-9a-f]*-\(0x[0-9a-f]*\) .*/\1/p'; }
module_at() { tr -d '\r' <"$HYVE_OUT" | sed -n "s/^mbinfo: module $1 at \(0x[0-9a-f]*\)$/\1/p"; }

# expect_image NAME BASE: the guest ran at BASE (the test ran what it meant).
expect_image() {
	if [ "$HYVE_STATUS" = 1 ] && [ "$(image_base)" != "$2" ]; then
		fail "$1" "guest reports its image at '$(image_base)', expected $2"
		dump_run "$1"
		return 1
	fi
}

hyve_run --debug-exit -l com1,stdio -m 256M "${MODS[@]}" --kernel "$(guest mbinfo-low)" "$VM"
expect_image boot_kernel_at_0x8000_sees_its_info 0x8000 &&
	expect_run boot_kernel_at_0x8000_sees_its_info 1 "${MAP_256M[@]}" "${MOD_LINES[@]}"

hyve_run --debug-exit -l com1,stdio -m 256M "${MODS[@]}" --kernel "$(guest mbinfo)" "$VM"
expect_image boot_kernel_at_1mib_sees_its_info 0x100000 &&
	expect_run boot_kernel_at_1mib_sees_its_info 1 "${MAP_256M[@]}" "${MOD_LINES[@]}"

hyve_run --timeout 120 --debug-exit -l com1,stdio -m 4G "${MODS[@]}" --kernel "$(guest mbinfo-high)" "$VM"
expect_image boot_kernel_below_pci_hole_sees_its_info 0xbfa00000 &&
	expect_run boot_kernel_below_pci_hole_sees_its_info 1 "${MAP_4G[@]}" "${MOD_LINES[@]}"

# A small module fits between the kernel's end and the hole: it goes there;
# a 1 MiB one does not: it goes to the lowest free place above 1 MiB.
hyve_run --timeout 120 --debug-exit -l com1,stdio -m 4G --module "$SYS_TMP/small.bin,s" \
	--module "$SYS_TMP/big.bin,b" --kernel "$(guest mbinfo-high)" "$VM"
name=boot_modules_placed_high_after_a_high_kernel
at0=$(module_at 0) at1=$(module_at 1) end=$(image_end)
if [ "$HYVE_STATUS" = 1 ] && { [ -z "$at0" ] || [ -z "$end" ] || ((at0 < end || at0 + 4096 > 0xc0000000)) ||
	[ "$at1" != 0x100000 ]; }; then
	fail $name "small module at '$at0' (kernel ends at '$end'), big one at '$at1' (expected 0x100000)"
	dump_run $name
else
	expect_run $name 1 \
		"mbinfo: module 0 size 4096 fnv1a $(fnv1a "$SYS_TMP/small.bin") cmdline '$SYS_TMP/small.bin s'" \
		"mbinfo: module 1 size 1048576 fnv1a $(fnv1a "$SYS_TMP/big.bin") cmdline '$SYS_TMP/big.bin b'"
fi

# expect_refusal NAME TEXT: hyve refused to boot (status 4) saying TEXT.
expect_refusal() {
	if [ "$HYVE_STATUS" != 4 ] || ! grep -qF -- "$2" "$HYVE_ERR"; then
		fail "$1" "expected status 4 and '$2' on stderr, got $(hyve_summary)"
		dump_run "$1"
	else
		pass "$1"
	fi
}

# seg0_range ELF: "0xSTART-0xLAST" of the first program header (as hyve
# names a segment: its last byte inclusive).
seg0_range() {
	python3 - "$1" <<'EOF'
import struct, sys
d = open(sys.argv[1], "rb").read()
phoff, = struct.unpack_from("<Q", d, 32)
paddr, filesz, memsz = struct.unpack_from("<QQQ", d, phoff + 24)
print("%#x-%#x" % (paddr, paddr + memsz - 1))
EOF
}

# The low guest with its first segment moved to 0x9f000 (p_paddr): it now
# runs into the EBDA and the BIOS area.
python3 - "$(guest mbinfo-low)" "$SYS_TMP/bios.elf" <<'EOF'
import struct, sys
d = bytearray(open(sys.argv[1], "rb").read())
phoff, = struct.unpack_from("<Q", d, 32)
struct.pack_into("<Q", d, phoff + 24, 0x9f000)
open(sys.argv[2], "wb").write(d)
EOF
hyve_run --debug-exit -l com1,stdio -m 256M --kernel "$SYS_TMP/bios.elf" "$VM"
expect_refusal boot_refuses_segment_over_bios_area \
	"kernel $SYS_TMP/bios.elf: segment 0 at $(seg0_range "$SYS_TMP/bios.elf") overlaps the BIOS area 0x9fc00-0xfffff"

hyve_run --debug-exit -l com1,stdio -m 512M --kernel "$(guest mbinfo-high)" "$VM"
expect_refusal boot_refuses_segment_past_ram \
	"segment 0 at $(seg0_range "$(guest mbinfo-high)") extends past the end of guest RAM, which ends at 0x20000000"
sys_done
