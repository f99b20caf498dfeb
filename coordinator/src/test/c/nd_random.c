// SPDX-License-Identifier: Apache-2.0
/*
 * Randomness from the kernel: getrandom(2), /dev/urandom and /dev/random.
 * Built dynamic (nd_random) and static (nd_random_static).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/random.h>
#include <unistd.h>

static void print_hex(const char *key, const unsigned char *buf, size_t len)
{
	size_t i;

	printf("%s=", key);
	for (i = 0; i < len; i++)
		printf("%02x", buf[i]);
	putchar('\n');
}

static int fill_getrandom(unsigned char *buf, size_t len)
{
	size_t done = 0;
	ssize_t n;

	while (done < len) {
		n = getrandom(buf + done, len - done, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			perror("getrandom");
			return -1;
		}
		done += n;
	}
	return 0;
}

static int fill_from(const char *dev, unsigned char *buf, size_t len)
{
	size_t done = 0;
	ssize_t n;
	int fd;

	fd = open(dev, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		perror(dev);
		return -1;
	}
	while (done < len) {
		n = read(fd, buf + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			perror(dev);
			close(fd);
			return -1;
		}
		done += n;
	}
	return close(fd);
}

int main(void)
{
	unsigned char buf[32];

	if (fill_getrandom(buf, 32))
		return 1;
	print_hex("getrandom", buf, 32);
	if (fill_from("/dev/urandom", buf, 32))
		return 1;
	print_hex("urandom", buf, 32);
	if (fill_from("/dev/random", buf, 16))
		return 1;
	print_hex("random", buf, 16);
	return 0;
}
