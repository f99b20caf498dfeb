// SPDX-License-Identifier: Apache-2.0
/*
 * replicore-rearm PID EPFD FD EVENTS DATA [FD EVENTS DATA]...
 *
 * When a backup takes over, its coordinator puts the real sockets in place
 * of the stand-ins in the application's descriptor table.  The stand-ins'
 * registrations in the application's epoll set go with them, and an epoll
 * registration is keyed by the descriptor number in the table of the process
 * that makes it.  So the registrations are made again here, by a process
 * that borrows the epoll set and each socket (pidfd_getfd) and puts each
 * socket at the application's number in its own table first.
 *
 * EVENTS and DATA are as /proc/PID/fdinfo/EPFD shows them (hex).  Exit 0
 * when every registration is in place (one already there counts), 1
 * otherwise, with a message on stderr.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#define NAME "replicore-rearm"

static int pidfd_open(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

static int pidfd_getfd(int pidfd, int fd)
{
	return (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0);
}

static int parse_long(const char *text, int base, long long *value)
{
	char *end;

	errno = 0;
	*value = strtoll(text, &end, base);
	return errno || *end || end == text ? -EINVAL : 0;
}

/* Put *fd above number floor, raising the soft descriptor limit to the hard one if need be. */
static int move_above(int *fd, int floor)
{
	struct rlimit limit;
	int high;

	if (*fd > floor)
		return 0;
	if (getrlimit(RLIMIT_NOFILE, &limit))
		return -1;
	if (limit.rlim_cur <= (rlim_t)floor + 3) {
		limit.rlim_cur = limit.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &limit))
			return -1;
	}
	high = fcntl(*fd, F_DUPFD_CLOEXEC, floor + 1);
	if (high < 0)
		return -1;
	close(*fd);
	*fd = high;
	return 0;
}

/* Register the application's FD, borrowed, under its own number. */
static int rearm_one(int pidfd, int epfd, int fd, uint32_t events,
		     uint64_t data)
{
	struct epoll_event event = { .events = events, .data.u64 = data };
	int borrowed, ret = 0;

	borrowed = pidfd_getfd(pidfd, fd);
	if (borrowed < 0)
		return -errno;
	if (borrowed != fd) {
		if (dup2(borrowed, fd) < 0)
			ret = -errno;
		close(borrowed);
		if (ret)
			return ret;
	}
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &event) && errno != EEXIST)
		ret = -errno;
	close(fd);
	return ret;
}

int main(int argc, char **argv)
{
	long long pid, epfd_number, fd, events, data;
	int pidfd, epfd, i, ret, highest = 2;

	if (argc < 6 || (argc - 3) % 3) {
		fprintf(stderr, "usage: " NAME " PID EPFD FD EVENTS DATA [FD EVENTS DATA]...\n");
		return 2;
	}
	if (parse_long(argv[1], 10, &pid) || parse_long(argv[2], 10, &epfd_number)) {
		fprintf(stderr, NAME ": bad PID or EPFD\n");
		return 2;
	}
	pidfd = pidfd_open((pid_t)pid);
	if (pidfd < 0) {
		fprintf(stderr, NAME ": pidfd_open %lld: %s\n", pid, strerror(errno));
		return 1;
	}
	epfd = pidfd_getfd(pidfd, (int)epfd_number);
	if (epfd < 0) {
		fprintf(stderr, NAME ": cannot borrow epoll set %lld: %s\n", epfd_number, strerror(errno));
		return 1;
	}
	for (i = 3; i < argc; i += 3) {
		if (parse_long(argv[i], 10, &fd) || parse_long(argv[i + 1], 16, &events) ||
		    parse_long(argv[i + 2], 16, &data) || fd < 3) {
			fprintf(stderr, NAME ": bad registration '%s %s %s'\n", argv[i], argv[i + 1], argv[i + 2]);
			return 2;
		}
		if (fd > highest)
			highest = (int)fd;
	}
	/* The application's numbers are about to be taken here: move ours above them all. */
	if (move_above(&pidfd, highest) || move_above(&epfd, highest)) {
		fprintf(stderr, NAME ": cannot move descriptors above %d: %s\n", highest, strerror(errno));
		return 1;
	}
	for (i = 3; i < argc; i += 3) {
		parse_long(argv[i], 10, &fd);
		parse_long(argv[i + 1], 16, &events);
		parse_long(argv[i + 2], 16, &data);
		ret = rearm_one(pidfd, epfd, (int)fd, (uint32_t)events, (uint64_t)data);
		if (ret) {
			fprintf(stderr, NAME ": descriptor %lld: %s\n", fd, strerror(-ret));
			return 1;
		}
	}
	return 0;
}
