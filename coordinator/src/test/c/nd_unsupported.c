// SPDX-License-Identifier: Apache-2.0
/*
 * A system call a replication system cannot replay without dedicated
 * support: io_uring_setup(2) (completions arrive through shared memory,
 * out of sight of system-call interception).
 */
#include <errno.h>
#include <linux/io_uring.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(void)
{
	struct io_uring_params params;
	long ret;

	memset(&params, 0, sizeof(params));
	ret = syscall(SYS_io_uring_setup, 4, &params);
	printf("io_uring_setup=%ld\n", ret);
	printf("errno=%d\n", ret < 0 ? errno : 0);
	if (ret >= 0 && close((int)ret)) {
		perror("close");
		return 1;
	}
	return 0;
}
