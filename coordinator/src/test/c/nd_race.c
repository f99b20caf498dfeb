// SPDX-License-Identifier: Apache-2.0
/*
 * A data race on purpose: four threads increment one counter without a
 * lock, and the total printed depends on how their increments interleave.
 * Replayed in parallel mode, a backup's output differs from the primary's
 * and the output check must report it.
 *
 * Threads sharing one CPU lose an increment only when the scheduler switches
 * between a load and its store, which may not happen in a whole run: the total
 * is then exact in both replicas.  So the first thread to finish also notes
 * how far each thread had got, which depends on where every switch fell and
 * differs from run to run on one CPU as on several.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define THREADS		4

static volatile long counter;
static volatile long done[THREADS];
static int first_finished = -1;
static long progress[THREADS];
static long rounds = 20000000;

static void note_progress_if_first(long self)
{
	int i;

	if (!__sync_bool_compare_and_swap(&first_finished, -1, (int)self))
		return;
	for (i = 0; i < THREADS; i++)
		progress[i] = done[i];
}

static void *increment(void *arg)
{
	long self = (long)arg;
	long i;

	/*
	 * A new thread's first stretch, up to its first intercepted call, runs
	 * alone in every replica (the coordinator orders births): the race is
	 * in what comes after this call.
	 */
	(void)time(NULL);
	for (i = 0; i < rounds; i++) {
		counter = counter + 1;
		done[self] = i + 1;
	}
	note_progress_if_first(self);
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t threads[THREADS];
	long i;
	int ret;

	if (argc > 1)
		rounds = atol(argv[1]);
	for (i = 0; i < THREADS; i++) {
		ret = pthread_create(&threads[i], NULL, increment, (void *)i);
		if (ret) {
			fprintf(stderr, "pthread_create: %d\n", ret);
			return 1;
		}
	}
	for (i = 0; i < THREADS; i++)
		pthread_join(threads[i], NULL);
	printf("counter=%ld of %ld\n", counter, THREADS * rounds);
	printf("progress=%ld %ld %ld %ld when thread %d finished first\n", progress[0], progress[1], progress[2],
	       progress[3], first_finished);
	return 0;
}
