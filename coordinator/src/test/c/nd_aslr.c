// SPDX-License-Identifier: Apache-2.0
/*
 * Addresses that address-space layout randomization would change:
 * stack, heap (brk and mmap'd malloc), anonymous mmap, the program's text
 * and libc's.  Identical across replicas only with ADDR_NO_RANDOMIZE.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

static void print_addr(const char *key, uintptr_t addr)
{
	printf("%s=0x%llx\n", key, (unsigned long long)addr);
}

int main(void)
{
	int on_stack = 0;
	void *small, *big, *anon;

	small = malloc(32);
	big = malloc(1 << 20);
	anon = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (!small || !big || anon == MAP_FAILED) {
		perror("allocation");
		return 1;
	}
	print_addr("stack", (uintptr_t)&on_stack);
	print_addr("malloc_small", (uintptr_t)small);
	print_addr("malloc_1m", (uintptr_t)big);
	print_addr("mmap_anon", (uintptr_t)anon);
	print_addr("main", (uintptr_t)&main);
	print_addr("printf", (uintptr_t)&printf);
	free(small);
	free(big);
	return munmap(anon, 4096) ? 1 : 0;
}
