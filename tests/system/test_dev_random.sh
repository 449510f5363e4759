#!/usr/bin/env bash
# Random values at every register of every device hyve emulates, at every
# width and at unaligned offsets, from a guest (tests/guest/dev_random.c),
# with two seeds: hyve must survive, every device must answer sanely
# afterwards and the guest must run on to its normal exit.
. "$(dirname "$0")/lib.sh"
sys_init dev_random_writes_seed_1 dev_random_writes_seed_2

for seed in 1 2; do
	hyve_run --timeout 120 --debug-exit -l com1,stdio -l com2,file="$SYS_TMP/com2.out" \
		--kernel "$(guest dev_random)" --cmdline "seed=$seed" vm-dev-random
	expect_run dev_random_writes_seed_$seed 1 "random: writes done" "random: devices answer ok"
done
