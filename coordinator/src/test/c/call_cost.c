// SPDX-License-Identifier: Apache-2.0
/*
 * call_cost ITERATIONS OUTFILE: what one system call costs, timed with the
 * TSC, for a call the coordinator answers with a logged value (time with no
 * pointer), one it performs and logs the bytes of (clock_gettime through the
 * raw system call) and one the filter lets straight into the kernel (getuid,
 * the floor).
 * Run by bin/bench-calls both directly and as replicas.
 *
 * In a replica the clock is the primary's (clock_gettime is replicated), so
 * all timing is rdtsc, which is not intercepted, calibrated against a
 * nanosleep, which is not either.  Every replica writes OUTFILE with its own
 * figures (it lies in the state directory, private to each replica), so that
 * write is not compared; but the arguments of every call are, so the file is
 * written in one write of a length that does not depend on the figures, and
 * nothing the program does depends on them: a replica must not diverge.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <x86intrin.h>

#define CALIBRATION_NS 200000000L
/* Every CSV line is padded to this width, so the file's length is fixed. */
#define LINE_WIDTH 80
/* Larger figures are clamped so that a line never outgrows LINE_WIDTH. */
#define MAX_NS 9999999999.0
#define MAX_ITERATIONS 100000000L

enum call { CALL_TIME, CALL_CLOCK_GETTIME, CALL_GETUID, CALLS };

static const char *const call_names[CALLS] = {
	[CALL_TIME] = "time",
	[CALL_CLOCK_GETTIME] = "clock_gettime",
	[CALL_GETUID] = "getuid",
};

static const char header[] = "call,iterations,mean_ns,p50_ns,p99_ns\n";

/* The fences keep the call from moving across the timestamps. */
static inline uint64_t tsc(void)
{
	uint64_t t;

	_mm_lfence();
	t = __rdtsc();
	_mm_lfence();
	return t;
}

static inline void do_call(enum call call)
{
	struct timespec ts;

	switch (call) {
	case CALL_TIME:
		syscall(SYS_time, NULL);
		break;
	case CALL_CLOCK_GETTIME:
		syscall(SYS_clock_gettime, CLOCK_REALTIME, &ts);
		break;
	default:
		syscall(SYS_getuid);
		break;
	}
}

/*
 * TSC cycles per nanosecond, from the TSC around a sleep.  A sleep overruns
 * by tens of microseconds, which is 0.0x% of 200 ms.
 */
static double cycles_per_ns(void)
{
	struct timespec sleep = { .tv_sec = 0, .tv_nsec = CALIBRATION_NS };
	uint64_t start, end;

	start = tsc();
	nanosleep(&sleep, NULL);
	end = tsc();
	return (double)(end - start) / CALIBRATION_NS;
}

/*
 * Warm up, then time each of n calls back to back: every sample is the
 * cycles from the end of the previous call to the end of this one.
 */
static void measure(enum call call, uint64_t *cycles, long n)
{
	uint64_t previous, now;
	long i;

	for (i = 0; i < n / 10; i++)
		do_call(call);
	previous = tsc();
	for (i = 0; i < n; i++) {
		do_call(call);
		now = tsc();
		cycles[i] = now - previous;
		previous = now;
	}
}

static int compare_cycles(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

static double clamp_ns(double ns)
{
	return ns < MAX_NS ? ns : MAX_NS;
}

/* One CSV line of exactly LINE_WIDTH bytes at line: the figures, spaces, \n. */
static void format_line(char *line, enum call call, uint64_t *cycles, long n,
			double per_ns)
{
	double sum = 0;
	long i;
	int length;

	for (i = 0; i < n; i++)
		sum += (double)cycles[i];
	qsort(cycles, n, sizeof(*cycles), compare_cycles);
	/* Nearest rank: the smallest sample with at least p% at or below it. */
	length = snprintf(line, LINE_WIDTH, "%s,%ld,%.1f,%.1f,%.1f",
			  call_names[call], n, clamp_ns(sum / n / per_ns),
			  clamp_ns((double)cycles[(n * 50 + 99) / 100 - 1] / per_ns),
			  clamp_ns((double)cycles[(n * 99 + 99) / 100 - 1] / per_ns));
	memset(line + length, ' ', LINE_WIDTH - 1 - length);
	line[LINE_WIDTH - 1] = '\n';
}

int main(int argc, char **argv)
{
	static char csv[sizeof(header) - 1 + CALLS * LINE_WIDTH];
	uint64_t *cycles;
	double per_ns;
	char *end;
	long n;
	int call, fd;
	ssize_t written;

	if (argc != 3) {
		fprintf(stderr, "usage: call_cost ITERATIONS OUTFILE\n");
		return 2;
	}
	n = strtol(argv[1], &end, 10);
	if (*end || n < 10 || n > MAX_ITERATIONS) {
		fprintf(stderr, "call_cost: ITERATIONS must be 10 to %ld\n",
			MAX_ITERATIONS);
		return 2;
	}
	cycles = malloc(n * sizeof(*cycles));
	if (!cycles) {
		perror("call_cost: malloc");
		return 1;
	}

	per_ns = cycles_per_ns();
	memcpy(csv, header, sizeof(header) - 1);
	for (call = 0; call < CALLS; call++) {
		measure(call, cycles, n);
		format_line(csv + sizeof(header) - 1 + call * LINE_WIDTH, call,
			    cycles, n, per_ns);
	}

	fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0) {
		perror("call_cost: open");
		return 1;
	}
	written = write(fd, csv, sizeof(csv));
	if (written != (ssize_t)sizeof(csv) || close(fd)) {
		perror("call_cost: write");
		return 1;
	}
	free(cycles);
	fputs("call_cost: done\n", stdout);
	return 0;
}
