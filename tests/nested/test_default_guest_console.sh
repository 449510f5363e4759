#!/usr/bin/env bash
# The README's first command, tools/boot-default-guest, gives an interactive
# shell: a line typed on its stdin reaches the guest's shell through every
# layer (QEMU stdio -> L1 console -> hyve -l com1,stdio -> L2's COM1), the
# shell's answer comes back, and 'poweroff -f' typed there ends it all.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

name=default_guest_console_is_interactive
nested_prepare "$name" || exit $nested_failed

dir=$nested_top/build/nested/default_guest
rm -rf "$dir"; mkdir -p "$dir"
out=$dir/console.log
fifo=$dir/stdin
mkfifo "$fifo"

if [ "${HYVE_NESTED_VMM:-hyve}" = qemu ]; then
	cmd=(bash "$nested_dir/rig.sh" --vmm qemu --interactive --run 1:shell)
else
	cmd=(bash "$nested_top/tools/boot-default-guest" -c 1)
fi
t0=$(date +%s)
timeout -k 5 240 "${cmd[@]}" <"$fifo" >"$out" 2>&1 &
pid=$!
exec 3>"$fifo"

# wait_for TEXT SECONDS: polls the console until TEXT shows up.
wait_for() {
	local i
	for ((i = 0; i < $2 * 2; i++)); do
		tr -d '\r' <"$out" | grep -qF -- "$1" && return 0
		kill -0 $pid 2>/dev/null || { tr -d '\r' <"$out" | grep -qF -- "$1"; return; }
		sleep 0.5
	done
	return 1
}

why=
if ! wait_for 'hyve default guest:' 200; then
	why="the guest's shell banner never came ($(($(date +%s) - t0)) s)"
else
	# A terminal sends CR for Enter; the guest's tty turns it into a newline.
	# The answer, not the echo of the typed line, holds the product.
	printf 'echo CONSOLE-$((6 * 7))-OK\r' >&3
	if ! wait_for 'CONSOLE-42-OK' 60; then
		why="typed 'echo CONSOLE-\$((6 * 7))-OK', the guest never answered CONSOLE-42-OK"
	else
		printf 'poweroff -f\r' >&3
		for ((i = 0; i < 120; i++)); do kill -0 $pid 2>/dev/null || break; sleep 0.5; done
		if kill -0 $pid 2>/dev/null; then
			why="'poweroff -f' in the guest's shell did not end it within 60 s"
		elif [ "${HYVE_NESTED_VMM:-hyve}" = hyve ] && grep -q 'HYVE-RUN-BEGIN' "$out" &&
			! tr -d '\r' <"$out" | grep -q 'HYVE-EXIT\[1\]=1'; then
			why="after 'poweroff -f', hyve's status was not 1 ($(tr -d '\r' <"$out" | grep -o 'HYVE-EXIT\[1\]=[0-9]*'))"
		fi
	fi
fi
exec 3>&-
kill $pid 2>/dev/null
wait $pid 2>/dev/null
echo "# wall time: $(($(date +%s) - t0)) s"
if [ -z "$why" ]; then
	nested_pass "$name"
else
	nested_fail "$name" "$why"
	echo "# console tail (full log: $out):"
	tr -d '\r' <"$out" | sed -E 's/\x1b(\[[0-9;?]*[A-Za-z]|[c78])//g' | tail -20 | sed 's/^/#   /'
fi
exit $nested_failed
