// SPDX-License-Identifier: Apache-2.0
/*
 * Signals: when a signal sent from outside arrives is the non-determinism.
 * Prints "ready" once its SIGHUP handler is in place, then waits for the
 * signal in one of four ways (the argument), and prints where the handler
 * ran. The handler itself writes a line too.
 *   loop     calls time() every millisecond: the signal lands at one of the
 *            calls, and the number of calls made before it is printed;
 *   pause    sleeps in pause(), which the signal ends (EINTR);
 *   wait     waits in epoll_wait on a pipe nobody writes (EINTR);
 *   blocked  blocks SIGHUP, calls time() for 2-3 s, then unblocks it: the
 *            handler runs at the unblocking, and the calls made are printed;
 *   child    forks a child that sleeps in sigsuspend() (SIGHUP blocked
 *            until then), sends it SIGHUP itself (kill) once it says it is
 *            ready, and waits for it: the signal comes from inside the
 *            replica, not from outside, and needs no "ready" line.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t hups;

static void on_hup(int signo)
{
	static const char line[] = "handler ran\n";

	(void)signo;
	hups++;
	if (write(STDOUT_FILENO, line, sizeof(line) - 1) < 0)
		_exit(3);
}

static int install(void)
{
	struct sigaction action;

	memset(&action, 0, sizeof(action));
	action.sa_handler = on_hup;
	action.sa_flags = SA_RESTART;
	sigemptyset(&action.sa_mask);
	return sigaction(SIGHUP, &action, NULL);
}

static void nap(void)
{
	const struct timespec millisecond = { .tv_nsec = 1000000 };

	nanosleep(&millisecond, NULL);
}

static void ready(void)
{
	printf("ready\n");
	fflush(stdout);
}

static int in_loop(void)
{
	long calls = 0;

	ready();
	while (!hups) {
		time(NULL);
		calls++;
		nap();
	}
	printf("hup after %ld calls\n", calls);
	return 0;
}

static int in_pause(void)
{
	ready();
	pause();
	printf("pause returned: %s, %d hup\n", strerror(errno), (int)hups);
	return 0;
}

static int in_wait(void)
{
	struct epoll_event event = { .events = EPOLLIN };
	int fds[2];
	int epfd;
	int n;

	if (pipe(fds) < 0 || (epfd = epoll_create1(0)) < 0 ||
	    epoll_ctl(epfd, EPOLL_CTL_ADD, fds[0], &event) < 0) {
		perror("nd_signal: setting up the wait");
		return 2;
	}
	ready();
	n = epoll_wait(epfd, &event, 1, -1);
	printf("epoll_wait returned %d: %s, %d hup\n", n, n < 0 ? strerror(errno) : "ready", (int)hups);
	return 0;
}

static int in_blocked(void)
{
	sigset_t hup;
	time_t start;
	long calls = 0;

	sigemptyset(&hup);
	sigaddset(&hup, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &hup, NULL) < 0) {
		perror("nd_signal: sigprocmask");
		return 2;
	}
	ready();
	start = time(NULL);
	while (time(NULL) - start < 3) {
		calls++;
		nap();
	}
	printf("unblocking after %ld calls, %d hup so far\n", calls, (int)hups);
	fflush(stdout);
	sigprocmask(SIG_UNBLOCK, &hup, NULL);
	printf("unblocked, %d hup\n", (int)hups);
	return 0;
}

static int in_child(void)
{
	sigset_t hup, none;
	pid_t child;
	int ready[2];
	int status;
	char byte = 0;

	sigemptyset(&hup);
	sigaddset(&hup, SIGHUP);
	sigemptyset(&none);
	if (pipe(ready) < 0 || sigprocmask(SIG_BLOCK, &hup, NULL) < 0) {
		perror("nd_signal: pipe or sigprocmask");
		return 2;
	}
	child = fork();
	if (child < 0) {
		perror("nd_signal: fork");
		return 2;
	}
	if (child == 0) {
		/* SIGHUP stays blocked until sigsuspend: it cannot come too early. */
		if (write(ready[1], &byte, 1) != 1)
			_exit(3);
		sigsuspend(&none);
		printf("child: sigsuspend returned: %s, %d hup\n", strerror(errno), (int)hups);
		return 0;
	}
	if (read(ready[0], &byte, 1) != 1 || kill(child, SIGHUP) < 0 || waitpid(child, &status, 0) != child) {
		perror("nd_signal: read, kill or waitpid");
		return 2;
	}
	printf("parent: child exited with %d\n", WEXITSTATUS(status));
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 2 || install() < 0) {
		fprintf(stderr, "usage: nd_signal loop|pause|wait|blocked|child\n");
		return 2;
	}
	if (strcmp(argv[1], "loop") == 0)
		return in_loop();
	if (strcmp(argv[1], "pause") == 0)
		return in_pause();
	if (strcmp(argv[1], "wait") == 0)
		return in_wait();
	if (strcmp(argv[1], "blocked") == 0)
		return in_blocked();
	if (strcmp(argv[1], "child") == 0)
		return in_child();
	fprintf(stderr, "nd_signal: unknown mode %s\n", argv[1]);
	return 2;
}
