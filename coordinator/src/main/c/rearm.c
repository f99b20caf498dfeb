// SPDX-License-Identifier: Apache-2.0
/*
 * replicore-rearm PID FD...
 *
 * When a backup takes over, its coordinator puts the real sockets in place
 * of the stand-ins in the application's descriptor table.  The stand-ins'
 * registrations in the application's epoll sets go with them, and an epoll
 * registration is keyed by the descriptor number in the table of the process
 * that makes it.  So the registrations are made again here, by a process
 * that borrows each epoll set and each socket (pidfd_getfd) and puts each
 * socket at the application's number in its own table first.
 *
 * A conversation with the coordinator, so that the reading happens before
 * the stand-ins go and the registering after the sockets are in place:
 *   1. read the application's registrations of the FDs named (the stand-ins,
 *      still in place) from /proc/PID/fdinfo, and each FD's flags;
 *   2. print "cloexec" and the FDs that are close-on-exec on one line, and
 *      wait for a line "go" on standard input;
 *   3. make each registration again and exit 0; exit 1 with a message on
 *      stderr if one fails, 2 on bad arguments.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#define NAME "replicore-rearm"
#define EVENTPOLL_LINK "anon_inode:[eventpoll]"

struct registration {
	int epfd;
	int fd;
	uint32_t events;
	uint64_t data;
};

struct registrations {
	struct registration *items;
	size_t count;
	size_t capacity;
};

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

/* The whole of a /proc file, NUL-terminated, in a buffer the caller frees; NULL with errno set on failure. */
static char *read_proc_file(const char *path)
{
	size_t capacity = 4096, length = 0;
	char *text = malloc(capacity), *bigger;
	ssize_t n;
	int fd;

	if (!text)
		return NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		free(text);
		return NULL;
	}
	while ((n = read(fd, text + length, capacity - length - 1)) > 0) {
		length += (size_t)n;
		if (capacity - length - 1 == 0) {
			bigger = realloc(text, capacity * 2);
			if (!bigger) {
				n = -1;
				break;
			}
			text = bigger;
			capacity *= 2;
		}
	}
	close(fd);
	if (n < 0) {
		free(text);
		return NULL;
	}
	text[length] = '\0';
	return text;
}

static int add_registration(struct registrations *all, const struct registration *one)
{
	struct registration *bigger;

	if (all->count == all->capacity) {
		all->capacity = all->capacity ? all->capacity * 2 : 64;
		bigger = realloc(all->items, all->capacity * sizeof(*bigger));
		if (!bigger)
			return -ENOMEM;
		all->items = bigger;
	}
	all->items[all->count++] = *one;
	return 0;
}

/* The registrations of held descriptors in epoll set EPFD, from lines "tfd: FD events: HEX data: HEX ...". */
static int read_epoll_set(pid_t pid, int epfd, const char *held, int highest, struct registrations *all)
{
	char path[64], *text, *line;
	struct registration one = { .epfd = epfd };
	unsigned int events;
	unsigned long long data;
	int fd, ret = 0;

	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", pid, epfd);
	text = read_proc_file(path);
	if (!text)
		return -errno;
	for (line = strtok(text, "\n"); line && !ret; line = strtok(NULL, "\n")) {
		if (sscanf(line, " tfd: %d events: %x data: %llx", &fd, &events, &data) != 3)
			continue;
		if (fd < 0 || fd > highest || !held[fd])
			continue;
		one.fd = fd;
		one.events = events;
		one.data = data;
		ret = add_registration(all, &one);
	}
	free(text);
	return ret;
}

/* Every epoll set of the application, and in each the registrations of held descriptors. */
static int read_registrations(pid_t pid, const char *held, int highest, struct registrations *all)
{
	char dir_path[64], link[64];
	struct dirent *entry;
	long long number;
	ssize_t n;
	DIR *dir;
	int ret = 0;

	snprintf(dir_path, sizeof(dir_path), "/proc/%d/fd", pid);
	dir = opendir(dir_path);
	if (!dir)
		return -errno;
	while (!ret && (entry = readdir(dir))) {
		if (parse_long(entry->d_name, 10, &number))
			continue;
		n = readlinkat(dirfd(dir), entry->d_name, link, sizeof(link) - 1);
		if (n < 0)
			continue; /* closed meanwhile */
		link[n] = '\0';
		if (strcmp(link, EVENTPOLL_LINK) == 0)
			ret = read_epoll_set(pid, (int)number, held, highest, all);
	}
	closedir(dir);
	return ret;
}

/* Print "cloexec FD..." for the held descriptors the application has close-on-exec. */
static int print_close_on_exec(pid_t pid, const char *held, int highest)
{
	char path[64], *text, *flags;
	int fd;

	fputs("cloexec", stdout);
	for (fd = 0; fd <= highest; fd++) {
		if (!held[fd])
			continue;
		snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", pid, fd);
		text = read_proc_file(path);
		if (!text)
			return -errno;
		flags = strstr(text, "flags:");
		if (flags && (strtoul(flags + 6, NULL, 8) & O_CLOEXEC))
			printf(" %d", fd);
		free(text);
	}
	putchar('\n');
	return fflush(stdout) ? -errno : 0;
}

static int wait_for_go(void)
{
	char line[16];

	if (!fgets(line, sizeof(line), stdin))
		return -EPIPE;
	return strcmp(line, "go\n") == 0 ? 0 : -EPROTO;
}

/* Put *fd above number floor, raising the soft descriptor limit to the hard one if need be. */
static int move_above(int *fd, int floor)
{
	struct rlimit limit;
	int high;

	if (*fd > floor)
		return 0;
	if (getrlimit(RLIMIT_NOFILE, &limit))
		return -errno;
	if (limit.rlim_cur <= (rlim_t)floor + 3) {
		limit.rlim_cur = limit.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &limit))
			return -errno;
	}
	high = fcntl(*fd, F_DUPFD_CLOEXEC, floor + 1);
	if (high < 0)
		return -errno;
	close(*fd);
	*fd = high;
	return 0;
}

/* Register the application's FD, borrowed, under its own number. */
static int rearm_one(int pidfd, int epfd, const struct registration *one)
{
	struct epoll_event event = { .events = one->events, .data.u64 = one->data };
	int borrowed, ret = 0;

	borrowed = pidfd_getfd(pidfd, one->fd);
	if (borrowed < 0)
		return -errno;
	if (borrowed != one->fd) {
		if (dup2(borrowed, one->fd) < 0)
			ret = -errno;
		close(borrowed);
		if (ret)
			return ret;
	}
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, one->fd, &event) && errno != EEXIST)
		ret = -errno;
	close(one->fd);
	return ret;
}

/* Make every registration again, one borrowed epoll set at a time (registrations come grouped by set). */
static int rearm_all(pid_t pid, const struct registrations *all, int highest)
{
	int pidfd, epfd = -1, current = -1, ret = 0;
	size_t i;

	pidfd = pidfd_open(pid);
	if (pidfd < 0)
		return -errno;
	ret = move_above(&pidfd, highest);
	for (i = 0; i < all->count && !ret; i++) {
		if (all->items[i].epfd != current) {
			if (epfd >= 0)
				close(epfd);
			current = all->items[i].epfd;
			epfd = pidfd_getfd(pidfd, current);
			ret = epfd < 0 ? -errno : move_above(&epfd, highest);
			if (ret) {
				fprintf(stderr, NAME ": cannot borrow epoll set %d: %s\n", current, strerror(-ret));
				break;
			}
		}
		ret = rearm_one(pidfd, epfd, &all->items[i]);
		if (ret)
			fprintf(stderr, NAME ": descriptor %d in epoll set %d: %s\n", all->items[i].fd, current,
				strerror(-ret));
	}
	if (epfd >= 0)
		close(epfd);
	close(pidfd);
	return ret;
}

int main(int argc, char **argv)
{
	struct registrations all = { 0 };
	long long pid, fd;
	int i, highest = 2, ret;
	char *held;

	if (argc < 3) {
		fprintf(stderr, "usage: " NAME " PID FD...\n");
		return 2;
	}
	if (parse_long(argv[1], 10, &pid) || pid <= 0) {
		fprintf(stderr, NAME ": bad PID '%s'\n", argv[1]);
		return 2;
	}
	for (i = 2; i < argc; i++) {
		if (parse_long(argv[i], 10, &fd) || fd < 3 || fd > 1 << 24) {
			fprintf(stderr, NAME ": bad descriptor '%s'\n", argv[i]);
			return 2;
		}
		if (fd > highest)
			highest = (int)fd;
	}
	held = calloc((size_t)highest + 1, 1);
	if (!held) {
		fprintf(stderr, NAME ": out of memory\n");
		return 1;
	}
	for (i = 2; i < argc; i++) {
		parse_long(argv[i], 10, &fd);
		held[fd] = 1;
	}
	ret = read_registrations((pid_t)pid, held, highest, &all);
	if (ret) {
		fprintf(stderr, NAME ": cannot read the epoll sets of %lld: %s\n", pid, strerror(-ret));
		return 1;
	}
	ret = print_close_on_exec((pid_t)pid, held, highest);
	if (ret) {
		fprintf(stderr, NAME ": cannot read the descriptor flags of %lld: %s\n", pid, strerror(-ret));
		return 1;
	}
	ret = wait_for_go();
	if (ret) {
		fprintf(stderr, NAME ": the coordinator did not say go: %s\n", strerror(-ret));
		return 1;
	}
	ret = rearm_all((pid_t)pid, &all, highest);
	free(all.items);
	free(held);
	return ret ? 1 : 0;
}
