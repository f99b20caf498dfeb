// SPDX-License-Identifier: Apache-2.0
/* Process and thread ids, which differ between replicas. */
#include <stdio.h>
#include <unistd.h>

int main(void)
{
	printf("pid=%d\n", (int)getpid());
	printf("tid=%d\n", (int)gettid());
	printf("ppid=%d\n", (int)getppid());
	return 0;
}
