// SPDX-License-Identifier: Apache-2.0
/*
 * Time, read every way a program can: through libc (the vDSO, no system
 * call at all when the vDSO serves it) and through a raw system call.
 * Built dynamic (nd_time) and static (nd_time_static).
 */
#include <stdio.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static void print_ts(const char *key, const struct timespec *ts)
{
	printf("%s=%lld.%09ld\n", key, (long long)ts->tv_sec, ts->tv_nsec);
}

static int print_clock(const char *key, clockid_t clock)
{
	struct timespec ts;

	if (clock_gettime(clock, &ts)) {
		perror("clock_gettime");
		return -1;
	}
	print_ts(key, &ts);
	return 0;
}

static int print_raw_clock(const char *key, clockid_t clock)
{
	struct timespec ts;

	if (syscall(SYS_clock_gettime, clock, &ts)) {
		perror("syscall(SYS_clock_gettime)");
		return -1;
	}
	print_ts(key, &ts);
	return 0;
}

static int print_gettimeofday(void)
{
	struct timeval tv;

	if (gettimeofday(&tv, NULL)) {
		perror("gettimeofday");
		return -1;
	}
	printf("gettimeofday=%lld.%06ld\n", (long long)tv.tv_sec,
	       (long)tv.tv_usec);
	return 0;
}

int main(void)
{
	if (print_clock("realtime", CLOCK_REALTIME) ||
	    print_clock("monotonic", CLOCK_MONOTONIC) ||
	    print_gettimeofday())
		return 1;
	printf("time=%lld\n", (long long)time(NULL));
	if (print_raw_clock("raw_realtime", CLOCK_REALTIME) ||
	    print_raw_clock("raw_monotonic", CLOCK_MONOTONIC))
		return 1;
	return 0;
}
