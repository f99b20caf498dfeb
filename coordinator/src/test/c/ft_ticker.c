// SPDX-License-Identifier: Apache-2.0
/*
 * ft_ticker COUNT INTERVAL_MS: writes "tick N" lines 1..COUNT to stdout, one
 * write each, INTERVAL_MS apart, then "done".  Used to watch output go on
 * without a gap or a repeat across a failover: each line is one output
 * call, logged and compared like any other.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int write_line(const char *line)
{
	size_t length = strlen(line);

	return write(STDOUT_FILENO, line, length) == (ssize_t)length ? 0 : -1;
}

int main(int argc, char **argv)
{
	struct timespec interval;
	char line[32];
	long count, ms, i;

	if (argc != 3) {
		fprintf(stderr, "usage: ft_ticker COUNT INTERVAL_MS\n");
		return 2;
	}
	count = strtol(argv[1], NULL, 10);
	ms = strtol(argv[2], NULL, 10);
	interval.tv_sec = ms / 1000;
	interval.tv_nsec = (ms % 1000) * 1000000L;
	for (i = 1; i <= count; i++) {
		snprintf(line, sizeof(line), "tick %ld\n", i);
		if (write_line(line)) {
			perror("ft_ticker: write");
			return 1;
		}
		nanosleep(&interval, NULL);
	}
	return write_line("done\n") ? 1 : 0;
}
