// SPDX-License-Identifier: Apache-2.0
/*
 * Pipe/terminal input: reads stdin to EOF in reads of varying sizes (how
 * many bytes each read returns is itself non-deterministic) and prints the
 * total and an FNV-1a 64 hash of the bytes.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#define FNV_OFFSET	0xcbf29ce484222325ULL
#define FNV_PRIME	0x100000001b3ULL

static const size_t read_sizes[] = { 1, 7, 4096, 65536 };
static unsigned char buf[65536];

static uint64_t fnv1a(uint64_t h, const unsigned char *p, size_t len)
{
	while (len--) {
		h ^= *p++;
		h *= FNV_PRIME;
	}
	return h;
}

int main(void)
{
	uint64_t hash = FNV_OFFSET;
	unsigned long long total = 0, reads = 0;
	ssize_t n;

	for (;;) {
		n = read(0, buf, read_sizes[reads % 4]);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			perror("read");
			return 1;
		}
		reads++;
		if (n == 0)
			break;
		hash = fnv1a(hash, buf, n);
		total += n;
	}
	printf("bytes=%llu\n", total);
	printf("fnv1a64=%016llx\n", (unsigned long long)hash);
	return 0;
}
