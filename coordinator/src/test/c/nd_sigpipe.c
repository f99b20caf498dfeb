// SPDX-License-Identifier: Apache-2.0
/*
 * A write to a pipe without a reader fails with EPIPE, and the kernel raises SIGPIPE in the writing thread on the
 * way: what the program sees depends on what it does with SIGPIPE.
 *
 *   nd_sigpipe caught   a handler (SA_RESTART) counts: write and writev fail with EPIPE after it ran
 *   nd_sigpipe blocked  SIGPIPE blocked: the write fails with EPIPE and SIGPIPE is pending until unblocked
 *   nd_sigpipe ignored  SIG_IGN: the write fails with EPIPE and nothing else happens
 *   nd_sigpipe default  no handler: the process ends by SIGPIPE before it can print the write's result
 *
 * Each prints what it saw, so a replica where the signal came elsewhere prints other bytes.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

static volatile sig_atomic_t handled;

static void on_sigpipe(int signo)
{
	(void)signo;
	handled++;
}

static int handle_sigpipe(void (*handler)(int))
{
	struct sigaction action;

	memset(&action, 0, sizeof(action));
	action.sa_handler = handler;
	action.sa_flags = SA_RESTART;
	sigemptyset(&action.sa_mask);
	if (sigaction(SIGPIPE, &action, NULL)) {
		perror("sigaction");
		return -1;
	}
	return 0;
}

/* A pipe's write end whose read end is closed. */
static int broken_pipe(void)
{
	int pipefd[2];

	if (pipe(pipefd)) {
		perror("pipe");
		return -1;
	}
	close(pipefd[0]);
	return pipefd[1];
}

static void print_result(const char *call, ssize_t n)
{
	printf("%s=%zd errno=%s handled=%d\n", call, n, n < 0 ? strerrorname_np(errno) : "none", (int)handled);
	fflush(stdout);
}

static int write_twice(int fd)
{
	struct iovec iov = {.iov_base = "xy", .iov_len = 2};

	print_result("write", write(fd, "x", 1));
	print_result("writev", writev(fd, &iov, 1));
	return 0;
}

static int caught(int fd)
{
	return handle_sigpipe(on_sigpipe) || write_twice(fd);
}

static int blocked(int fd)
{
	sigset_t set, pending;

	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	if (handle_sigpipe(on_sigpipe) || sigprocmask(SIG_BLOCK, &set, NULL))
		return 1;
	print_result("write", write(fd, "x", 1));
	if (sigpending(&pending))
		return 1;
	printf("pending=%d\n", sigismember(&pending, SIGPIPE));
	if (sigprocmask(SIG_UNBLOCK, &set, NULL))
		return 1;
	printf("unblocked: handled=%d\n", (int)handled);
	return 0;
}

static int ignored(int fd)
{
	return handle_sigpipe(SIG_IGN) || write_twice(fd);
}

static int by_default(int fd)
{
	printf("writing\n");
	fflush(stdout);
	print_result("write", write(fd, "x", 1));
	return 0;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "caught";
	int fd = broken_pipe();

	if (fd < 0)
		return 1;
	if (!strcmp(mode, "caught"))
		return caught(fd);
	if (!strcmp(mode, "blocked"))
		return blocked(fd);
	if (!strcmp(mode, "ignored"))
		return ignored(fd);
	if (!strcmp(mode, "default"))
		return by_default(fd);
	fprintf(stderr, "usage: nd_sigpipe caught|blocked|ignored|default\n");
	return 2;
}
