# Sourced by L1's /init: runs what the rig asked for (rig/runs.sh, generated
# per rig invocation), one "rig_one INDEX TIMEOUT COMMAND..." line per run.
# Each run is framed by HYVE-RUN-BEGIN[i] and HYVE-EXIT[i]=status markers,
# which is all the host-side rig parses.

rig_one() {
	local i=$1 t=$2 rc t0 t1
	shift 2
	echo "HYVE-RUN-BEGIN[$i] $*"
	t0=$(cut -d' ' -f1 /proc/uptime)
	if [ "$rig_interactive" = 1 ]; then
		# The L2 shell echoes and edits lines itself: L1's tty must pass
		# every key through untouched (^C included) and add nothing.
		stty raw -echo 2>/dev/null
		"$@"
		rc=$?
		stty sane 2>/dev/null
	else
		timeout -s KILL "$t" "$@"
		rc=$?
	fi
	t1=$(cut -d' ' -f1 /proc/uptime)
	echo
	echo "HYVE-EXIT[$i]=$rc elapsed=$t0..$t1"
	[ "$rc" = 137 ] && echo "HYVE-RUN-KILLED[$i] (no exit within ${t}s, or killed)"
}

. /rig/runs.sh
