/* A tiny test harness.  Each test binary prints one line per case:
 *   PASS: name
 *   FAIL: name: file:line: expression
 *   SKIP: name: reason
 * tests/run.sh counts those lines; the exit status is non-zero on failure. */
#ifndef HYVE_TEST_CHECK_H
#define HYVE_TEST_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_failed_total;
static int check_case_failed;
static const char *check_case_name;

#define CHECK(cond)                                                         \
	do {                                                                \
		if (!(cond)) {                                              \
			if (!check_case_failed)                             \
				printf("FAIL: %s: %s:%d: %s\n",             \
				       check_case_name, __FILE__, __LINE__, \
				       #cond);                              \
			check_case_failed = 1;                              \
		}                                                           \
	} while (0)

#define CHECK_EQ(a, b)                                                      \
	do {                                                                \
		unsigned long long check_a_ = (unsigned long long)(a);      \
		unsigned long long check_b_ = (unsigned long long)(b);      \
		if (check_a_ != check_b_) {                                 \
			if (!check_case_failed)                             \
				printf("FAIL: %s: %s:%d: %s == %s "         \
				       "(0x%llx != 0x%llx)\n",              \
				       check_case_name, __FILE__, __LINE__, \
				       #a, #b, check_a_, check_b_);         \
			check_case_failed = 1;                              \
		}                                                           \
	} while (0)

#define RUN_TEST(fn)                                                        \
	do {                                                                \
		check_case_name = #fn;                                      \
		check_case_failed = 0;                                      \
		fn();                                                       \
		if (!check_case_failed)                                     \
			printf("PASS: %s\n", #fn);                          \
		else                                                        \
			check_failed_total++;                               \
		fflush(stdout);                                             \
	} while (0)

#define SKIP_TEST(fn, reason) printf("SKIP: %s: %s\n", #fn, reason)

#define CHECK_DONE() (check_failed_total ? 1 : 0)

#endif
