#!/usr/bin/env bash
# virtio under Debian's Linux (issue 7, 5), in the nested rig (tests/nested/:
# QEMU-TCG L1 with real KVM, hyve in L1, Linux as L2).  Runs ~2-4 minutes.
#
# L2 loads Debian's virtio_pci, virtio_blk, virtio-rng and ext4 modules
# (from the same kernel package), reads /dev/hwrng, mounts an ext4 disk made
# on the host, and writes files with their checksums once a second.  In L1
# hyve is checkpointed while those writes are in flight, SIGKILLed and
# restored from the snapshot; the restored guest writes on, verifies every
# file against its checksum and unmounts, and L1 then runs e2fsck -fn on the
# disk image.  The hyve -r run needs no arguments but the snapshot.
set -u
. "$(dirname "$0")/lib.sh"

CASES="virtio_linux_binds_pci_devices_with_msix virtio_linux_hwrng_gives_bytes
virtio_linux_ext4_checkpoint_restore_files_intact virtio_linux_ext4_fsck_clean_after_restore"
nested_prepare $CASES || exit 0
for tool in mkfs.ext4 debugfs e2fsck; do
	if ! command -v $tool >/dev/null; then
		for c in $CASES; do echo "SKIP: $c: $tool missing (Debian package e2fsprogs)"; done
		exit 0
	fi
done

kit=${HYVE_KIT_DIR:-/var/cache/hyve-kit}
kmod=$kit/modules/$(cat "$kit/kver")/kernel
work=$(mktemp -d "${TMPDIR:-/tmp}/hyve-virtio-linux.XXXXXX")
trap 'rm -rf "$work"' EXIT
mods="drivers/virtio/virtio_ring drivers/virtio/virtio drivers/virtio/virtio_pci_modern_dev
drivers/virtio/virtio_pci_legacy_dev drivers/virtio/virtio_pci drivers/block/virtio_blk
drivers/char/hw_random/virtio-rng lib/crc16 fs/mbcache fs/jbd2/jbd2 crypto/crc32c_generic fs/ext4/ext4"
args=()
for m in $mods; do
	if [ ! -e "$kmod/$m.ko" ]; then
		for c in $CASES; do nested_fail "$c" "guest kit lacks $m.ko"; done
		exit 1
	fi
	args+=(--l2-file "$kmod/$m.ko:/lib/virtio/$(basename "$m").ko")
done

# L2: the rig runs /bin/l2-workload for hyve.action=workload.
cat >"$work/l2" <<'EOF'
#!/bin/busybox sh
for m in virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_blk \
	virtio-rng crc16 mbcache jbd2 crc32c_generic ext4; do
	insmod /lib/virtio/$m.ko 2>/dev/null || echo "VL2-INSMOD-FAIL=$m"
done
sleep 1
for d in /sys/bus/pci/devices/*; do
	echo "VL2-PCI=$(cat $d/vendor):$(cat $d/device) $(basename "$(readlink $d/driver)")"
done
echo "VL2-HWRNG=$(cat /sys/class/misc/hw_random/rng_current) $(head -c 16 /dev/hwrng | od -An -tx1 | tr -d ' \n')"
mkdir -p /mnt
mount -t ext4 /dev/vda /mnt && echo "VL2-MOUNTED $(cat /mnt/hello.txt)"
grep -c PCI-MSI /proc/interrupts | sed 's/^/VL2-MSI-LINES=/'
i=0
while [ $i -lt 10 ]; do
	i=$((i + 1))
	dd if=/dev/urandom of=/mnt/f$i bs=64k count=8 2>/dev/null
	md5sum /mnt/f$i >/mnt/f$i.md5
	echo "VL2-WRITING $i"
	sleep 1
done
bad=0
for f in /mnt/f*.md5; do md5sum -c "$f" >/dev/null 2>&1 || bad=$((bad + 1)); done
echo "VL2-VERIFIED files=$(ls /mnt/f*.md5 | wc -l) bad=$bad"
umount /mnt && echo VL2-UMOUNTED
EOF

# L1: run, checkpoint at the third write, kill -9, restore, fsck.
cat >"$work/l1" <<'EOF'
#!/bin/sh
mkdir -m 700 /tmp/ctl
hyve -c 1 -m 256M --kernel /vmlinuz --initrd /l2.cpio.gz -l com1,stdio \
	--cmdline 'console=ttyS0 quiet loglevel=1 panic=-1 hyve.action=workload' \
	-s 3,virtio-blk,/disk.img -s 4,virtio-rng --control /tmp/ctl/a.sock vl >/tmp/out1 2>&1 &
pid=$!
n=0
while ! grep -q '^VL2-WRITING 3' /tmp/out1 && [ $n -lt 1500 ]; do sleep 0.1; n=$((n + 1)); done
echo "VL1-CTL=$(hyvectl --socket=/tmp/ctl/a.sock --checkpoint=/tmp/snap 2>&1 | tr '\n' ' ')"
kill -9 $pid
wait $pid
tr -d '\r' </tmp/out1 | sed 's/^/VL1-OUT1: /'
timeout 150 hyve -r /tmp/snap -l com1,stdio --control /tmp/ctl/b.sock >/tmp/out2 2>&1
echo "VL1-EXIT2=$?"
tr -d '\r' </tmp/out2 | sed 's/^/VL1-OUT2: /'
e2fsck -fn /disk.img >/tmp/fsck 2>&1
echo "VL1-FSCK=$?"
sed 's/^/VL1-FSCK-OUT: /' /tmp/fsck | tail -5
EOF

chmod 755 "$work/l2" "$work/l1"
truncate -s 64M "$work/disk.img"
mkfs.ext4 -q -F "$work/disk.img"
echo "hello from the host" >"$work/hello"
debugfs -w -R "write $work/hello hello.txt" "$work/disk.img" >/dev/null 2>&1
args+=(--l2-file "$work/l2:/bin/l2-workload" --l1-file "$work/l1:/bin/virtio-l1" --l1-file "$work/disk.img:/disk.img")
e2=$(command -v e2fsck)
args+=(--l1-file "$e2:/bin/e2fsck")
for lib in $(ldd "$e2" | awk '/=> \//{print $3} /^\t\//{print $1}'); do
	args+=(--l1-file "$lib:$lib")
done

nested_rig virtio-linux "${args[@]}" --run-timeout 240 --timeout 320 --l1-cmd 'sh /bin/virtio-l1'
if ! nested_rig_ok; then
	for c in $CASES; do nested_fail "$c" "the rig failed (status $nested_rig_status; log $nested_log)"; done
	exit 1
fi
out() { tr -d '\r' <"$nested_log" | grep -E "^$1" ; }

if out 'VL1-OUT1: VL2-PCI=0x1af4:0x1042 virtio-pci$' >/dev/null &&
	out 'VL1-OUT1: VL2-PCI=0x1af4:0x1044 virtio-pci$' >/dev/null &&
	[ "$(out 'VL1-OUT1: VL2-MSI-LINES=' | sed 's/.*=//')" -ge 4 ] && ! out 'VL1-OUT1: VL2-INSMOD-FAIL' >/dev/null; then
	nested_pass virtio_linux_binds_pci_devices_with_msix
else
	nested_fail virtio_linux_binds_pci_devices_with_msix "virtio_pci did not bind both devices with MSI-X: $(out 'VL1-OUT1: VL2-(PCI|MSI|INSMOD)' | tr '\n' ' ')"
fi
if out 'VL1-OUT1: VL2-HWRNG=virtio_rng.0 [0-9a-f]{32}$' >/dev/null; then
	nested_pass virtio_linux_hwrng_gives_bytes
else
	nested_fail virtio_linux_hwrng_gives_bytes "$(out 'VL1-OUT1: VL2-HWRNG' || echo 'no VL2-HWRNG line')"
fi
first=$(out 'VL1-OUT2: VL2-WRITING' | head -1 | sed 's/.* //')
if out 'VL1-CTL=.*checkpoint written' >/dev/null && out 'VL1-OUT1: VL2-MOUNTED hello from the host' >/dev/null &&
	[ -n "$first" ] && [ "$first" -ge 3 ] && out 'VL1-OUT2: VL2-WRITING 10$' >/dev/null &&
	out 'VL1-OUT2: VL2-VERIFIED files=10 bad=0$' >/dev/null && out 'VL1-OUT2: VL2-UMOUNTED' >/dev/null &&
	out 'VL1-EXIT2=1$' >/dev/null; then
	nested_pass virtio_linux_ext4_checkpoint_restore_files_intact
else
	nested_fail virtio_linux_ext4_checkpoint_restore_files_intact "$(out 'VL1-(CTL|EXIT2)|VL1-OUT2: VL2-(VERIFIED|WRITING)' | tr '\n' ' ')"
	nested_show 1
fi
# Only meaningful once the restored guest wrote, verified and unmounted.
if out 'VL1-OUT2: VL2-UMOUNTED' >/dev/null && out 'VL1-FSCK=0$' >/dev/null; then
	nested_pass virtio_linux_ext4_fsck_clean_after_restore
else
	nested_fail virtio_linux_ext4_fsck_clean_after_restore "restored run unmounted: $(out 'VL1-OUT2: VL2-UMOUNTED' >/dev/null && echo yes || echo no); $(out 'VL1-FSCK' | tr '\n' ' ')"
fi
exit $nested_failed
