#!/usr/bin/env bash
# Runs a test guest under QEMU/KVM: a second opinion when a guest misbehaves
# under hyve (is it the guest or the VMM?).  QEMU exits (V << 1) | 1 on
# debug-exit as hyve does; with -no-reboot a reset or triple fault exits 0,
# and a halted guest never exits (use a timeout).
#   tests/guest/qemu-run.sh NAME [-c CPUS] [-m MiB] [--cmdline STR]
# COM1 is on stdio (QEMU does not read a piped stdin: for receive tests
# connect to a socket chardev instead).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
name=${1:?usage: qemu-run.sh NAME [-c CPUS] [-m MiB] [--cmdline STR]}
shift
cpus=1 mem=256 cmdline=
while [ $# -gt 0 ]; do
	case $1 in
	-c) cpus=$2; shift 2 ;;
	-m) mem=$2; shift 2 ;;
	--cmdline) cmdline=$2; shift 2 ;;
	*) echo "qemu-run.sh: unknown option $1" >&2; exit 2 ;;
	esac
done
make -s -C "$here" "build/$name.qemu.elf"
# -arch-capabilities: this host's KVM refuses QEMU's write of that MSR
exec qemu-system-x86_64 -accel kvm -cpu host,-arch-capabilities -m "$mem" -smp "$cpus" \
	-display none -serial stdio -net none -no-reboot \
	-device isa-debug-exit,iobase=0xf4,iosize=4 \
	-kernel "$here/build/$name.qemu.elf" -append "$cmdline"
