// SPDX-License-Identifier: Apache-2.0
/*
 * Threads born in a loop map memory in their first stretch: each new thread's
 * first malloc makes glibc map an arena for it, while its parent goes on to
 * map the next thread's stack. Who maps first decides where each lands, and
 * the program prints where they landed (as offsets from the first thread's
 * stack, so that only their order shows). Unordered, each replica lays its
 * memory out in its own order, the backup prints other offsets, and every
 * later call that names an address differs.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define THREADS		8

static uintptr_t stacks[THREADS];
static uintptr_t blocks[THREADS];
/* Every thread keeps its arena until all are born: none is handed on to a later one. */
static pthread_barrier_t all_born;

static void *first_stretch(void *arg)
{
	int self = (int)(intptr_t)arg;
	char on_stack;

	stacks[self] = (uintptr_t)&on_stack;
	blocks[self] = (uintptr_t)malloc(1000);
	pthread_barrier_wait(&all_born);
	return NULL;
}

int main(void)
{
	pthread_t threads[THREADS];
	int i;

	if (pthread_barrier_init(&all_born, NULL, THREADS + 1))
		return 1;
	for (i = 0; i < THREADS; i++) {
		if (pthread_create(&threads[i], NULL, first_stretch, (void *)(intptr_t)i)) {
			perror("pthread_create");
			return 1;
		}
	}
	pthread_barrier_wait(&all_born);
	for (i = 0; i < THREADS; i++)
		pthread_join(threads[i], NULL);
	for (i = 0; i < THREADS; i++)
		printf("thread %d: stack %+ld MiB, first block %+ld MiB\n", i,
		       (long)((intptr_t)(stacks[i] - stacks[0]) >> 20), (long)((intptr_t)(blocks[i] - stacks[0]) >> 20));
	return 0;
}
