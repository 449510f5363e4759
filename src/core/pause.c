/* Pause/resume: park every vCPU thread outside KVM_RUN and release them.
 *
 * machine_pause sets pause_requested and kicks each vCPU (SIGUSR1 +
 * immediate_exit); each vCPU thread notices at its pause point, counts
 * itself parked and waits.  Pauses nest; the last resume releases. */
#include <string.h>
#include <time.h>

#include "core/internal.h"
#include "hyve/machine.h"
#include "hyve/vcpu.h"

bool machine_pause_point(struct machine *m)
{
	if (!atomic_load(&m->pause_requested))
		return false;
	pthread_mutex_lock(&m->pause_lock);
	if (!atomic_load(&m->pause_requested)) {
		pthread_mutex_unlock(&m->pause_lock);
		return false;
	}
	m->nr_parked++;
	pthread_cond_broadcast(&m->pause_cond);
	while (atomic_load(&m->pause_requested) && !atomic_load(&m->exit_requested))
		pthread_cond_wait(&m->pause_cond, &m->pause_lock);
	m->nr_parked--;
	pthread_mutex_unlock(&m->pause_lock);
	return true;
}

void machine_vcpu_exiting(struct machine *m)
{
	pthread_mutex_lock(&m->pause_lock);
	m->nr_threads--;
	pthread_cond_broadcast(&m->pause_cond);
	pthread_mutex_unlock(&m->pause_lock);
}

int machine_pause(struct machine *m, struct hyve_err *err)
{
	struct timespec deadline;
	unsigned tries = 0;

	pthread_mutex_lock(&m->pause_lock);
	if (m->pause_depth++ > 0) {
		pthread_mutex_unlock(&m->pause_lock);
		return 0;
	}
	atomic_store(&m->pause_requested, true);
	pthread_mutex_unlock(&m->pause_lock);

	for (unsigned i = 0; i < m->nr_vcpus; i++)
		vcpu_kick(&m->vcpus[i]);

	pthread_mutex_lock(&m->pause_lock);
	while (m->nr_parked < m->nr_threads) {
		clock_gettime(CLOCK_REALTIME, &deadline);
		deadline.tv_nsec += 10 * 1000 * 1000;
		if (deadline.tv_nsec >= 1000000000L) {
			deadline.tv_sec++;
			deadline.tv_nsec -= 1000000000L;
		}
		if (pthread_cond_timedwait(&m->pause_cond, &m->pause_lock, &deadline) != 0) {
			/* A vCPU stuck in a device handler for seconds means
			 * something is wrong: report it rather than hang. */
			if (++tries > 500) {
				unsigned parked = m->nr_parked, threads = m->nr_threads;

				m->pause_depth--;
				atomic_store(&m->pause_requested, false);
				pthread_cond_broadcast(&m->pause_cond);
				pthread_mutex_unlock(&m->pause_lock);
				return err_set(err, ETIMEDOUT, "pause: only %u of %u vCPUs stopped within 5 s",
					       parked, threads);
			}
			pthread_mutex_unlock(&m->pause_lock);
			for (unsigned i = 0; i < m->nr_vcpus; i++)
				vcpu_kick(&m->vcpus[i]);
			pthread_mutex_lock(&m->pause_lock);
		}
	}
	pthread_mutex_unlock(&m->pause_lock);
	return 0;
}

void machine_resume(struct machine *m)
{
	pthread_mutex_lock(&m->pause_lock);
	if (m->pause_depth > 0 && --m->pause_depth == 0) {
		atomic_store(&m->pause_requested, false);
		pthread_cond_broadcast(&m->pause_cond);
	}
	pthread_mutex_unlock(&m->pause_lock);
}
