// SPDX-License-Identifier: Apache-2.0
/*
 * Readiness: waits on standard input (a pipe the test writes in bursts) with
 * ppoll, pselect6 and the select system call in turn, each with a timeout,
 * until EOF, and prints what each wait saw: how many descriptors were ready,
 * their events or sets, and the time Linux wrote back as left of the
 * timeout. Whether a wait ends on input or on its timeout, and the time
 * left, differ from run to run. First, the answers that do not: a closed
 * descriptor in poll (POLLNVAL) and in select (EBADF), a set bit beyond the
 * descriptor table (ignored), a write set.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/select.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* Not open; below the 64 descriptors of the table, or far beyond it. */
#define CLOSED_FD	50
#define BEYOND_TABLE_FD	999

static char buf[4096];
static long total;

/* The select system call itself: glibc's select() is pselect6. */
static long sys_select(int nfds, fd_set *in, fd_set *out, struct timeval *timeout)
{
	return syscall(SYS_select, nfds, in, out, NULL, timeout);
}

/* The ppoll system call: glibc's ppoll() does not pass the time left back. */
static long sys_ppoll(struct pollfd *fds, nfds_t nfds, struct timespec *timeout, const sigset_t *mask)
{
	return syscall(SYS_ppoll, fds, nfds, timeout, mask, _NSIG / 8);
}

static void fixed_answers(void)
{
	struct pollfd fds[2] = {
		{ .fd = BEYOND_TABLE_FD, .events = POLLIN },
		{ .fd = -1, .events = POLLIN },
	};
	struct timespec zero = { 0, 0 };
	fd_set in, out;
	long n;

	n = sys_ppoll(fds, 2, NULL, NULL);
	printf("ppoll_closed=%ld revents=%#x,%#x\n", n, fds[0].revents, fds[1].revents);

	FD_ZERO(&in);
	FD_SET(CLOSED_FD, &in);
	n = sys_select(CLOSED_FD + 1, &in, NULL, NULL);
	printf("select_closed=%ld errno=%d\n", n, n < 0 ? errno : 0);

	FD_ZERO(&in);
	FD_ZERO(&out);
	FD_SET(BEYOND_TABLE_FD, &in);
	FD_SET(1, &out);
	n = sys_select(FD_SETSIZE, &in, &out, NULL);
	printf("select_beyond_table=%ld in=%d out=%d\n", n, FD_ISSET(BEYOND_TABLE_FD, &in), FD_ISSET(1, &out));

	FD_ZERO(&out);
	FD_SET(1, &out);
	n = pselect(2, NULL, &out, NULL, &zero, NULL);
	printf("pselect_out=%ld out=%d\n", n, FD_ISSET(1, &out));
}

/* 1 at EOF, -1 on error. */
static int drain(const char *call)
{
	ssize_t n = read(0, buf, sizeof(buf));

	if (n < 0) {
		perror("read");
		return -1;
	}
	printf("%s read=%zd\n", call, n);
	total += n;
	return n == 0;
}

static int wait_ppoll(void)
{
	struct pollfd fds[2] = {
		{ .fd = 0, .events = POLLIN },
		{ .fd = -1, .events = POLLIN },
	};
	struct timespec left = { .tv_sec = 0, .tv_nsec = 30 * 1000 * 1000 };
	sigset_t mask;
	long n;

	sigemptyset(&mask);
	n = sys_ppoll(fds, 2, &left, &mask);
	printf("ppoll=%ld revents=%#x,%#x left=%lld.%09ld\n", n, fds[0].revents,
	       fds[1].revents, (long long)left.tv_sec, left.tv_nsec);
	return n < 0 ? -1 : n > 0 ? drain("ppoll") : 0;
}

static int wait_pselect(void)
{
	struct timespec timeout = { .tv_sec = 0, .tv_nsec = 20 * 1000 * 1000 };
	sigset_t mask;
	fd_set in;
	int n;

	FD_ZERO(&in);
	FD_SET(0, &in);
	sigemptyset(&mask);
	n = pselect(1, &in, NULL, NULL, &timeout, &mask);
	printf("pselect=%d in=%d\n", n, FD_ISSET(0, &in));
	return n < 0 ? -1 : n > 0 ? drain("pselect") : 0;
}

static int wait_select(void)
{
	struct timeval left = { .tv_sec = 0, .tv_usec = 25 * 1000 };
	fd_set in;
	long n;

	FD_ZERO(&in);
	FD_SET(0, &in);
	n = sys_select(1, &in, NULL, &left);
	printf("select=%ld in=%d left=%lld.%06ld\n", n, FD_ISSET(0, &in),
	       (long long)left.tv_sec, (long)left.tv_usec);
	return n < 0 ? -1 : n > 0 ? drain("select") : 0;
}

int main(void)
{
	int end = 0;

	/* A line at a time: the test feeds the input once it sees the first lines. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	fixed_answers();
	while (!end) {
		end = wait_ppoll();
		if (!end)
			end = wait_pselect();
		if (!end)
			end = wait_select();
	}
	printf("bytes=%ld\n", total);
	return end < 0;
}
