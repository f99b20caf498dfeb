// SPDX-License-Identifier: Apache-2.0
/*
 * A pid namespace per replica, so that the process and thread ids the
 * program sees are the same in every replica: ids are handed out in order
 * inside the namespace, and every replica creates its processes and
 * threads in the order of the log.
 *
 *   launcher (outside, the coordinator's child)   waits, then ends as the
 *     |                                            program ended
 *     +-- init (pid 1 inside)                      reaps orphans; ends when
 *           |                                      the program ends, which
 *           +-- program (pid 2 inside)             kills what is left
 *
 * The program is not pid 1, so signals reach it as on any host.  init
 * passes the program's wait status to the launcher through a pipe.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "launch.h"

static int fail_errno(const char *what)
{
	int ret = -errno;

	pr_err("%s: %s", what, strerror(-ret));
	return ret;
}

/*
 * init must not outlive the launcher, which may die before the prctl.  The
 * launcher's pidfd is opened before the fork: its pid is not visible from
 * inside the namespace.
 */
static int init_die_with_launcher(int pidfd)
{
	struct pollfd pfd;

	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0))
		return fail_errno("cannot set init's parent-death signal");
	pfd.fd = pidfd;
	pfd.events = POLLIN;
	pfd.revents = 0;
	/* Readable: the launcher has exited already. */
	if (poll(&pfd, 1, 0) != 0) {
		pr_err("launcher exited during start-up");
		return -ESRCH;
	}
	close(pidfd);
	return 0;
}

/* pid 1: reap everything until the program ends, then report its status. */
static void __attribute__((noreturn)) run_init(pid_t program, int status_fd)
{
	int status = 0;
	pid_t pid;

	for (;;) {
		pid = waitpid(-1, &status, __WALL);
		if (pid == program)
			break;
		if (pid < 0 && errno != EINTR) {
			status = EXIT_LAUNCH_FAILURE << 8;
			break;
		}
	}
	if (write(status_fd, &status, sizeof(status)) != sizeof(status))
		_exit(EXIT_LAUNCH_FAILURE);
	/* init's exit kills whatever the program left behind. */
	_exit(0);
}

/* The launcher: wait for init, then end the way the program ended. */
static void __attribute__((noreturn)) mirror_program(pid_t init, int status_fd)
{
	int init_status, status;
	ssize_t n;

	while (waitpid(init, &init_status, 0) < 0 && errno == EINTR)
		;
	do {
		n = read(status_fd, &status, sizeof(status));
	} while (n < 0 && errno == EINTR);
	if (n != sizeof(status)) {
		pr_err("init of the pid namespace ended without the program's status");
		_exit(EXIT_LAUNCH_FAILURE);
	}
	if (WIFSIGNALED(status)) {
		sigset_t set;

		signal(WTERMSIG(status), SIG_DFL);
		sigemptyset(&set);
		sigaddset(&set, WTERMSIG(status));
		sigprocmask(SIG_UNBLOCK, &set, NULL);
		prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);	/* no core of ours */
		raise(WTERMSIG(status));
	}
	_exit(WIFEXITED(status) ? WEXITSTATUS(status) : EXIT_LAUNCH_FAILURE);
}

int enter_pid_namespace(void)
{
	int status_pipe[2], launcher;
	pid_t init, program;

	if (pipe2(status_pipe, O_CLOEXEC))
		return fail_errno("cannot create the status pipe");
	launcher = (int)syscall(SYS_pidfd_open, getpid(), 0);
	if (launcher < 0)
		return fail_errno("cannot open the launcher's pidfd");
	if (unshare(CLONE_NEWPID))
		return fail_errno("cannot create a pid namespace");
	init = fork();
	if (init < 0)
		return fail_errno("cannot start the namespace's init");
	if (init > 0) {
		close(launcher);
		close(status_pipe[1]);
		mirror_program(init, status_pipe[0]);
	}
	close(status_pipe[0]);
	if (init_die_with_launcher(launcher))
		_exit(EXIT_LAUNCH_FAILURE);
	program = fork();
	if (program < 0) {
		fail_errno("cannot start the program's process");
		_exit(EXIT_LAUNCH_FAILURE);
	}
	if (program > 0)
		run_init(program, status_pipe[1]);
	close(status_pipe[1]);
	/* The program's process goes on with the launch; it dies with init. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0))
		return fail_errno("cannot set the program's parent-death signal");
	return 0;
}
