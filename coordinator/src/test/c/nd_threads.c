// SPDX-License-Identifier: Apache-2.0
/*
 * Threads that each take input from the outside world without sharing a
 * lock across it: every thread reads the clock and random bytes, then
 * hands its result to the main thread through its own pipe.  The main
 * thread prints the results in thread order, so the output is the same in
 * every replica only if each thread got the primary's inputs.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define THREADS		4
#define ROUNDS		50

struct worker {
	int index;
	int pipe[2];
	pthread_t thread;
};

static void *work(void *arg)
{
	struct worker *w = arg;
	unsigned long long mix = 0, r;
	struct timespec ts;
	int i;

	for (i = 0; i < ROUNDS; i++) {
		if (getrandom(&r, sizeof(r), 0) != sizeof(r))
			return NULL;
		clock_gettime(CLOCK_REALTIME, &ts);
		mix = mix * 31 + r + (unsigned long long)ts.tv_nsec;
	}
	if (write(w->pipe[1], &mix, sizeof(mix)) != sizeof(mix))
		return NULL;
	return NULL;
}

int main(void)
{
	struct worker workers[THREADS];
	unsigned long long mix;
	int i;

	for (i = 0; i < THREADS; i++) {
		workers[i].index = i;
		if (pipe(workers[i].pipe) ||
		    pthread_create(&workers[i].thread, NULL, work, &workers[i])) {
			perror("start");
			return 1;
		}
	}
	for (i = 0; i < THREADS; i++) {
		if (read(workers[i].pipe[0], &mix, sizeof(mix)) != sizeof(mix)) {
			perror("read");
			return 1;
		}
		pthread_join(workers[i].thread, NULL);
		printf("thread%d=%016llx\n", i, mix);
	}
	return 0;
}
