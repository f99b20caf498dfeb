// SPDX-License-Identifier: Apache-2.0
/*
 * Children that end while their parent runs: when each end reaches the parent (SIGCHLD, a zombie for wait) is
 * decided by the kernel's timing, and the parent prints what it saw when.
 *
 *   nd_sigchld poll     a SIGCHLD handler (SA_RESTART) counts; the parent loops on time() and
 *                       waitpid(WNOHANG), printing at which turn each signal and each end came
 *   nd_sigchld sigpipe  as poll, but each child ends by SIGPIPE, writing to a pipe that has no reader
 *   nd_sigchld killed   as poll, but each child calls on until the parent's SIGTERM (no handler) ends it
 *   nd_sigchld threads  as poll, while a second thread of the parent makes calls too: the kernel hands SIGCHLD
 *                       to the thread that forked, and the handler counts the times it ran in another
 *   nd_sigchld suspend  as a shell waits: SIGCHLD blocked, waitpid(WNOHANG), sigsuspend when none ended
 *   nd_sigchld pipe     a command substitution: the child writes to a pipe and ends; the parent reads to the
 *                       end of the pipe under a handler without SA_RESTART, so a read may fail with EINTR
 *   nd_sigchld orphan   a child forks a grandchild and ends at once; the grandchild goes to init, and the
 *                       parent reaps its child only
 *   nd_sigchld busy     the child ends while the parent computes without a call for a while
 *   nd_sigchld sleep    the child ends while the parent sleeps for 30 s under a handler: the sleep fails with
 *                       EINTR and leaves the time left
 *   nd_sigchld spawn    posix_spawn (a clone that sleeps until the child has exec'd) of a program that runs, and
 *                       of one that does not exist, whose child ends while the parent still sleeps in the clone
 */
#include <poll.h>
#include <pthread.h>
#include <spawn.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CHILDREN 6

static volatile sig_atomic_t signals;
static volatile sig_atomic_t elsewhere;
/* The parent's second thread stops once this pipe has a byte: poll's answer is the same in every replica. */
static int stop_sibling[2];
/* How spawn's children end: 0 by _exit, SIGPIPE writing to broken_pipe, SIGTERM from their parent. */
static int ending;
static int broken_pipe = -1;

static void on_sigchld(int signo)
{
	(void)signo;
	signals++;
	if (gettid() != getpid())
		elsewhere++;
}

/* A second thread of the parent, making calls until told to stop. */
static void *sibling(void *unused)
{
	struct pollfd stop = {.fd = stop_sibling[0], .events = POLLIN};

	(void)unused;
	while (poll(&stop, 1, 0) == 0)
		(void)time(NULL);
	return NULL;
}

static int catch_sigchld(int flags)
{
	struct sigaction action;

	memset(&action, 0, sizeof(action));
	action.sa_handler = on_sigchld;
	action.sa_flags = flags;
	sigemptyset(&action.sa_mask);
	if (sigaction(SIGCHLD, &action, NULL)) {
		perror("sigaction");
		return -1;
	}
	return 0;
}

/* fork, with nothing buffered to duplicate into the child. */
static pid_t fork_flushed(void)
{
	pid_t child;

	if (fflush(stdout))
		return -1;
	child = fork();
	if (child < 0)
		perror("fork");
	return child;
}

/* Child i makes a few calls, more for later children, then ends with status i, or as ending says. */
static pid_t spawn(int i)
{
	pid_t child = fork_flushed();
	int call;

	if (child == 0) {
		for (call = 0; call < 20 * (i + 1); call++)
			(void)time(NULL);
		if (ending == SIGPIPE)
			(void)write(broken_pipe, "x", 1);
		while (ending == SIGTERM)
			(void)time(NULL);
		_exit(i);
	}
	return child;
}

/* waitpid(-1, WNOHANG): a child that ended is counted and printed at this turn. Its pid, 0 or -1. */
static pid_t reap(int turn, int *reaped)
{
	int status;
	pid_t pid = waitpid(-1, &status, WNOHANG);

	if (pid < 0)
		perror("waitpid");
	if (pid <= 0)
		return pid;
	(*reaped)++;
	return printf("turn %d: reaped child %d %s %d, %d signals so far\n", turn, (int)pid,
		      WIFSIGNALED(status) ? "signal" : "status",
		      WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status), (int)signals) < 0 ? -1 : pid;
}

/* A pipe's write end whose read end is closed: a write to it fails with EPIPE and raises SIGPIPE. */
static int open_broken_pipe(void)
{
	int pipefd[2];

	if (pipe(pipefd)) {
		perror("pipe");
		return -1;
	}
	close(pipefd[0]);
	broken_pipe = pipefd[1];
	return 0;
}

static int poll_children(int with_sibling)
{
	int reaped = 0, seen = 0, turn, i;
	pid_t children[CHILDREN];
	pthread_t thread;

	if (catch_sigchld(SA_RESTART) || (ending == SIGPIPE && open_broken_pipe()))
		return 1;
	if (with_sibling && (pipe(stop_sibling) || pthread_create(&thread, NULL, sibling, NULL)))
		return 1;
	for (i = 0; i < CHILDREN; i++)
		if ((children[i] = spawn(i)) < 0)
			return 1;
	for (turn = 0; reaped < CHILDREN; turn++) {
		(void)time(NULL);
		if (ending == SIGTERM && turn % 10 == 0 && turn / 10 < CHILDREN && kill(children[turn / 10], SIGTERM)) {
			perror("kill");
			return 1;
		}
		if (signals != seen) {
			seen = signals;
			printf("turn %d: %d signals\n", turn, seen);
		}
		if (reap(turn, &reaped) < 0)
			return 1;
	}
	if (with_sibling) {
		if (write(stop_sibling[1], "x", 1) != 1 || pthread_join(thread, NULL))
			return 1;
		printf("handler elsewhere=%d\n", (int)elsewhere);
	}
	printf("reaped=%d\n", reaped);
	return 0;
}

static int suspend_for_children(void)
{
	sigset_t blocked, old;
	int reaped = 0, sleeps = 0, i;
	pid_t pid;

	sigemptyset(&blocked);
	sigaddset(&blocked, SIGCHLD);
	if (catch_sigchld(0) || sigprocmask(SIG_BLOCK, &blocked, &old))
		return 1;
	for (i = 0; i < CHILDREN; i++)
		if (spawn(i) < 0)
			return 1;
	while (reaped < CHILDREN) {
		pid = reap(sleeps, &reaped);
		if (pid < 0)
			return 1;
		if (pid == 0) {
			sleeps++;
			sigsuspend(&old);
		}
	}
	printf("reaped=%d\n", reaped);
	return 0;
}

static int read_substitution(void)
{
	char buffer[64];
	int pipefd[2], status, interrupted = 0;
	size_t length = 0;
	ssize_t n;
	pid_t child;

	if (catch_sigchld(0) || pipe(pipefd))
		return 1;
	child = fork_flushed();
	if (child < 0)
		return 1;
	if (child == 0) {
		close(pipefd[0]);
		_exit(write(pipefd[1], "substituted", 11) == 11 ? 0 : 1);
	}
	close(pipefd[1]);
	for (;;) {
		n = read(pipefd[0], buffer + length, sizeof(buffer) - 1 - length);
		if (n < 0 && errno == EINTR) {
			interrupted++;
			continue;
		}
		if (n <= 0)
			break;
		length += (size_t)n;
	}
	buffer[length] = '\0';
	if (n < 0 || waitpid(child, &status, 0) != child) {
		perror("read or waitpid");
		return 1;
	}
	printf("substitution=%s\nread_eintr=%d\nsignals=%d\nchild_status=%d\n", buffer, interrupted,
	       (int)signals, WEXITSTATUS(status));
	return 0;
}

static int reap_orphans(void)
{
	int reaped = 0, status, pipefd[2];
	pid_t child, pid;
	char byte;

	/* The grandchild holds the pipe's write end: its end is the pipe's. */
	if (catch_sigchld(SA_RESTART) || pipe(pipefd))
		return 1;
	child = fork_flushed();
	if (child < 0)
		return 1;
	if (child == 0) {
		close(pipefd[0]);
		_exit(spawn(3) < 0 ? 1 : 0);
	}
	close(pipefd[1]);
	while ((pid = waitpid(-1, &status, 0)) > 0) {
		reaped++;
		printf("reaped %s, status %d\n", pid == child ? "child" : "grandchild", WEXITSTATUS(status));
	}
	if (read(pipefd[0], &byte, 1) != 0) {
		perror("read");
		return 1;
	}
	printf("reaped=%d\ngrandchild ended\n", reaped);
	return 0;
}

/* One child, spawned under a SIGCHLD handler (SA_RESTART); -1 if either failed. */
static pid_t spawn_one_caught(void)
{
	return catch_sigchld(SA_RESTART) ? -1 : spawn(0);
}

/* waitpid for `child`; its exit status, or -1. */
static int reap_one(pid_t child)
{
	int status;

	if (waitpid(child, &status, 0) != child) {
		perror("waitpid");
		return -1;
	}
	return WEXITSTATUS(status);
}

static int compute_while_it_ends(void)
{
	volatile unsigned long sum = 0;
	unsigned long i;
	int status;
	pid_t child = spawn_one_caught();

	if (child < 0)
		return 1;
	/* No call for well over a second, even on a fast machine. */
	for (i = 0; i < 8000000000UL; i++)
		sum += i;
	status = reap_one(child);
	if (status < 0)
		return 1;
	printf("signals=%d\nchild_status=%d\n", (int)signals, status);
	return 0;
}

static int sleep_while_it_ends(void)
{
	struct timespec request = {30, 0}, left = {0, 0};
	pid_t child = spawn_one_caught();
	int rc;

	if (child < 0)
		return 1;
	rc = nanosleep(&request, &left);
	printf("nanosleep returned %d (%s), signals=%d, %s 27 s left\n", rc, rc ? strerrorname_np(errno) : "none",
	       (int)signals, left.tv_sec >= 27 ? "over" : "under");
	return reap_one(child) < 0;
}

static int spawned(const char *path)
{
	char *argv[] = {(char *)path, NULL};
	int status, rc;
	pid_t child;

	if (fflush(stdout))
		return -1;
	rc = posix_spawn(&child, path, NULL, NULL, argv, NULL);
	if (rc) {
		printf("%s: %s\n", path, strerror(rc));
		return 0;
	}
	if (waitpid(child, &status, 0) != child) {
		perror("waitpid");
		return -1;
	}
	printf("%s: status %d\n", path, WEXITSTATUS(status));
	return 0;
}

static int spawn_programs(void)
{
	if (catch_sigchld(SA_RESTART) || spawned("/bin/true") || spawned("/nonexistent/program"))
		return 1;
	printf("signals=%d\n", (int)signals);
	return 0;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "poll";

	if (!strcmp(mode, "poll") || !strcmp(mode, "threads"))
		return poll_children(!strcmp(mode, "threads"));
	if (!strcmp(mode, "sigpipe") || !strcmp(mode, "killed")) {
		ending = !strcmp(mode, "sigpipe") ? SIGPIPE : SIGTERM;
		return poll_children(0);
	}
	if (!strcmp(mode, "suspend"))
		return suspend_for_children();
	if (!strcmp(mode, "pipe"))
		return read_substitution();
	if (!strcmp(mode, "orphan"))
		return reap_orphans();
	if (!strcmp(mode, "busy"))
		return compute_while_it_ends();
	if (!strcmp(mode, "spawn"))
		return spawn_programs();
	if (!strcmp(mode, "sleep"))
		return sleep_while_it_ends();
	fprintf(stderr, "usage: nd_sigchld poll|sigpipe|killed|threads|suspend|pipe|orphan|busy|spawn|sleep\n");
	return 2;
}
