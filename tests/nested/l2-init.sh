#!/bin/busybox sh
# /init of the L2 guest (the Linux that hyve boots).  Prints what the rig's
# tests check, one "HYVE-L2-*" line each, then does what hyve.action= on the
# kernel command line asks.  Every serial character is an exit that climbs
# to L1 under nesting, so this stays terse.  hyve.action=workload runs
# /bin/l2-workload (hyve.mb= MiB, hyve.ticks= ticks) for the snapshot test;
# rtcwake and s3host run it too and suspend to RAM (ACPI S3) in the middle
# of it, for the S3 test: rtcwake with util-linux's `rtcwake -m mem -s N`
# (hyve.wake_s=, 3 by default; the test puts rtcwake and its libc here),
# s3host with `echo mem > /sys/power/state`, for the host to wake.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
# No /dev/console node in the initramfs: take the console from devtmpfs.
exec 0</dev/console 1>/dev/console 2>&1

action=shell mib=64 ticks=10 wake_s=3
for arg in $(cat /proc/cmdline); do
	case $arg in
	hyve.action=*) action=${arg#hyve.action=} ;;
	hyve.mb=*) mib=${arg#hyve.mb=} ;;
	hyve.ticks=*) ticks=${arg#hyve.ticks=} ;;
	hyve.wake_s=*) wake_s=${arg#hyve.wake_s=} ;;
	esac
done

echo "HYVE-L2-UP"
echo "HYVE-L2-NPROC=$(nproc)"
echo "HYVE-L2-CPUS-ONLINE=$(cat /sys/devices/system/cpu/online 2>/dev/null)"
echo "HYVE-L2-DATE=$(date -u +%s)"
echo "HYVE-L2-ACPI=$(ls /sys/firmware/acpi/tables 2>/dev/null | tr '\n' ' ')"
echo "HYVE-L2-ACTION=$action"

case $action in
poweroff) poweroff -f ;;
reboot) reboot -f ;;
workload)
	# The save/restore workload (l2-workload.c, put here by the test): it
	# powers off when it is done, and reboots (hyve status 0, not 1) when
	# it found a fault, so hyve's status alone tells them apart.
	if /bin/l2-workload "$mib" "$ticks"; then
		poweroff -f
	fi
	echo "HYVE-L2-WORKLOAD-FAILED"
	reboot -f
	;;
rtcwake | s3host)
	# The workload ticks before and after the sleep; it is frozen
	# meanwhile.  HYVE-L2-SUSPEND / HYVE-L2-RESUMED frame the sleep.
	/bin/l2-workload "$mib" "$ticks" &
	wl=$!
	sleep 4
	echo "HYVE-L2-SUSPEND mem_sleep=$(cat /sys/power/mem_sleep | tr ' ' ,) states=$(cat /sys/power/state | tr ' ' ,) date=$(date -u +%s)"
	if [ "$action" = rtcwake ]; then
		rtcwake -m mem -s "$wake_s" >/tmp/rtcwake.out 2>&1
	else
		echo mem >/sys/power/state
	fi
	echo "HYVE-L2-RESUMED rc=$? date=$(date -u +%s) wakeup=$(cat /sys/power/pm_wakeup_irq 2>/dev/null)"
	sed 's/^/HYVE-L2-RTCWAKE-OUT /' /tmp/rtcwake.out 2>/dev/null
	if wait $wl; then
		poweroff -f
	fi
	echo "HYVE-L2-WORKLOAD-FAILED"
	reboot -f
	;;
shell)
	echo "hyve default guest: busybox shell on the console; 'poweroff -f' ends it."
	# cttyhack gives the shell the console as controlling tty (job control, ^C).
	while :; do setsid cttyhack sh -l; done
	;;
*) echo "HYVE-L2-BAD-ACTION=$action" ;;
esac
# poweroff/reboot -f do not return; if they did, say so and stop here.
echo "HYVE-L2-ACTION-FAILED=$action"
while :; do sleep 3600; done
