/* hyve(8): build the VM the command line (or a snapshot) describes, run it,
 * exit with bhyve's statuses.  Only this file prints errors and exits. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hyve/cli.h"
#include "hyve/control.h"
#include "hyve/machine.h"
#include "hyve/vmsnap.h"

struct selftest {
	struct machine *machine;
	unsigned cycles;
};

static uint64_t main_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* --selftest-pause=N: pause and resume the running guest N times at
 * random short intervals; the guest checks that nothing was lost. */
static void *main_selftest_pause(void *arg)
{
	struct selftest *st = arg;
	struct machine *m = st->machine;
	uint64_t worst = 0, total = 0;
	unsigned seed = 12345;
	unsigned done;

	usleep(20000);
	for (done = 0; done < st->cycles && !atomic_load(&m->exit_requested); done++) {
		struct hyve_err err = { 0 };
		uint64_t t0 = main_now_us(), dt;

		if (machine_pause(m, &err)) {
			machine_request_exit(m, HYVE_EXIT_ERROR, "selftest-pause: cycle %u: %s", done, err.msg);
			return NULL;
		}
		dt = main_now_us() - t0;
		total += dt;
		if (dt > worst)
			worst = dt;
		if (m->nr_parked != m->nr_threads) {
			machine_resume(m);
			machine_request_exit(m, HYVE_EXIT_ERROR, "selftest-pause: cycle %u: %u of %u vCPUs parked",
					     done, m->nr_parked, m->nr_threads);
			return NULL;
		}
		machine_resume(m);
		usleep(rand_r(&seed) % 2000);
	}
	fprintf(stderr, "hyve: selftest-pause: %u pause/resume cycles, mean %llu us, worst %llu us to park\n",
		done, (unsigned long long)(done ? total / done : 0), (unsigned long long)worst);
	return NULL;
}

int main(int argc, char **argv)
{
	struct hyve_options *opts = calloc(1, sizeof(*opts));
	struct machine *m = calloc(1, sizeof(*m));
	struct hyve_err err = { 0 };
	struct selftest st;
	pthread_t selftest_thread;
	bool selftest_started = false;
	int status = HYVE_EXIT_ERROR;

	if (!opts || !m) {
		fprintf(stderr, "hyve: out of memory\n");
		goto out_free;
	}
	if (hyve_parse_args(argc, argv, opts, &err)) {
		fprintf(stderr, "hyve: %s (see hyve --help)\n", err.msg);
		goto out_free;
	}
	if (opts->help || opts->version) {
		if (opts->help)
			hyve_usage(stdout);
		else
			printf("hyve %s\n", HYVE_VERSION);
		status = 0;
		goto out_free;
	}
	if (opts->cfg.restore_path[0] ? vm_snapshot_restore(m, opts, &err)
				      : machine_create(m, &opts->cfg, &err) || machine_boot(m, &err)) {
		fprintf(stderr, "hyve: %s: %s\n", m->cfg.name[0] ? m->cfg.name : opts->cfg.name, err.msg);
		goto out_destroy;
	}
	if (control_start(m, opts->cfg.control_path, &err)) {
		fprintf(stderr, "hyve: %s: %s\n", m->cfg.name, err.msg);
		goto out_destroy;
	}
	if (opts->selftest_pause) {
		st.machine = m;
		st.cycles = opts->selftest_pause;
		selftest_started = pthread_create(&selftest_thread, NULL, main_selftest_pause, &st) == 0;
	}
	status = machine_run(m);
	control_stop(m);
	if (selftest_started)
		pthread_join(selftest_thread, NULL);
	if (status == HYVE_EXIT_HALT || status == HYVE_EXIT_TRIPLEFAULT || status == HYVE_EXIT_ERROR)
		fprintf(stderr, "hyve: %s: %s\n", m->cfg.name, m->exit_reason);
out_destroy:
	machine_destroy(m);
out_free:
	free(m);
	free(opts);
	return status;
}
