#!/usr/bin/env bash
# What a Multiboot guest is told: mem_lower/mem_upper and a memory map laid
# out like a PC (low RAM, the legacy hole below 1 MiB, the 3-4 GiB MMIO hole
# with the rest of RAM above 4 GiB), and modules loaded page-aligned with
# their bytes intact and their command lines ("PATH args").
. "$(dirname "$0")/lib.sh"
sys_init mbinfo_memory_map_256m mbinfo_memory_map_5g_above_4g mbinfo_modules_loaded_intact

g=$(guest mbinfo)

# check_mmap NAME RAM_BYTES: type-1 entries sum to RAM_BYTES less at most
# 1 MiB, none in [0xA0000, 1 MiB) or [3 GiB, 4 GiB), mem_lower 600..640.
check_mmap() {
	local why
	why=$(tr -d '\r' <"$HYVE_OUT" | python3 -c '
import sys
ram, bad, total, lower = int(sys.argv[1]), [], 0, None
for line in sys.stdin:
    f = line.split()
    if line.startswith("mbinfo: mem_lower"):
        lower = int(f[2])
    elif line.startswith("mbinfo: mmap ") and int(f[4]) == 1:
        base, size = int(f[2], 16), int(f[3], 16)
        total += size
        if base < 0x100000 and base + size > 0xA0000:
            bad.append("RAM %#x+%#x in the legacy hole" % (base, size))
        if base < 1 << 32 and base + size > 0xC0000000:
            bad.append("RAM %#x+%#x in the 3-4 GiB hole" % (base, size))
if lower is None or not 600 <= lower <= 640:
    bad.append("mem_lower %s" % lower)
if not ram - (1 << 20) <= total <= ram:
    bad.append("usable RAM %d bytes for -m %d" % (total, ram))
print("; ".join(bad), end="")' "$2" 2>&1)
	if [ "$HYVE_STATUS" != 1 ]; then
		fail "$1" "expected status 1, got $(hyve_summary)"
		dump_run "$1"
	elif [ -n "$why" ]; then
		fail "$1" "memory map: $why"
		dump_run "$1"
	else
		pass "$1"
	fi
}

hyve_run --debug-exit -l com1,stdio -m 256M --kernel "$g" "$VM"
check_mmap mbinfo_memory_map_256m $((256 << 20))

hyve_run --debug-exit -l com1,stdio -m 5G --kernel "$g" "$VM"
if [ "$HYVE_STATUS" = 1 ] && ! out_grep '^mbinfo: mmap 0x100000000 0x[0-9a-f]+ 1$'; then
	fail mbinfo_memory_map_5g_above_4g "no usable RAM entry starting at 4 GiB"
	dump_run mbinfo_memory_map_5g_above_4g
else
	check_mmap mbinfo_memory_map_5g_above_4g $((5 << 30))
fi

head -c 70000 /dev/urandom >"$SYS_TMP/mod0.bin"
printf 'x' >"$SYS_TMP/mod1.bin"
hyve_run --debug-exit -l com1,stdio -m 128M --module "$SYS_TMP/mod0.bin,alpha=1 beta" \
	--module "$SYS_TMP/mod1.bin" --kernel "$g" "$VM"
expect_run mbinfo_modules_loaded_intact 1 \
	"mbinfo: module 0 size 70000 fnv1a $(fnv1a "$SYS_TMP/mod0.bin") cmdline '$SYS_TMP/mod0.bin alpha=1 beta'" \
	"mbinfo: module 1 size 1 fnv1a $(fnv1a "$SYS_TMP/mod1.bin") cmdline '$SYS_TMP/mod1.bin'" \
	"mbinfo: 2 modules"
sys_done
