/* Error reporting: functions return 0 or a negative errno and fill a
 * struct hyve_err with one line of context.  Only main() prints and exits. */
#ifndef HYVE_ERR_H
#define HYVE_ERR_H

#include <errno.h>

struct hyve_err {
	int code;       /* positive errno of the first failure, 0 if none */
	char msg[512];  /* "restore: section 'pit' v3 is newer than this hyve supports (v2)" */
};

/* Records the first error only (later calls keep the original message).
 * err may be NULL.  Returns -errnum so callers can `return err_set(...)`. */
int err_set(struct hyve_err *err, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Prefixes the recorded message with context: "checkpoint: " + msg. */
void err_prefix(struct hyve_err *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

void err_clear(struct hyve_err *err);

#endif
