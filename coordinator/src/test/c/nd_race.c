// SPDX-License-Identifier: Apache-2.0
/*
 * A data race on purpose: four threads increment one counter without a
 * lock, and the total printed depends on how their increments interleave.
 * Replayed in parallel mode, a backup's total differs from the primary's
 * and the output check must report it.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#define THREADS		4

static volatile long counter;
static long rounds = 20000000;

static void *increment(void *arg)
{
	long i;

	(void)arg;
	for (i = 0; i < rounds; i++)
		counter = counter + 1;
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t threads[THREADS];
	int i, ret;

	if (argc > 1)
		rounds = atol(argv[1]);
	for (i = 0; i < THREADS; i++) {
		ret = pthread_create(&threads[i], NULL, increment, NULL);
		if (ret) {
			fprintf(stderr, "pthread_create: %d\n", ret);
			return 1;
		}
	}
	for (i = 0; i < THREADS; i++)
		pthread_join(threads[i], NULL);
	printf("counter=%ld of %ld\n", counter, THREADS * rounds);
	return 0;
}
