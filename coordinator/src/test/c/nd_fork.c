// SPDX-License-Identifier: Apache-2.0
/* A multi-process program: a child prints a line, the parent waits for it. */
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void)
{
	int status;
	pid_t child;

	/* Nothing buffered may be duplicated into the child. */
	if (fflush(stdout))
		return 1;
	child = fork();
	if (child < 0) {
		perror("fork");
		return 1;
	}
	if (child == 0) {
		printf("child=hello\n");
		return fflush(stdout) ? 1 : 0;
	}
	if (waitpid(child, &status, 0) != child) {
		perror("waitpid");
		return 1;
	}
	printf("parent=waited\n");
	printf("child_status=%d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	return 0;
}
