// SPDX-License-Identifier: Apache-2.0
/*
 * Process attributes set with prctl(2).
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "launch.h"

/*
 * --die-with-parent: the replica must not outlive its coordinator.  The
 * parent may have died before the prctl took effect, in which case we were
 * reparented and no signal will ever come: check for that.
 */
int die_with_parent(pid_t expected_parent)
{
	int ret;

	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0)) {
		ret = -errno;
		pr_err("cannot set parent-death signal: %s", strerror(-ret));
		return ret;
	}
	if (getppid() != expected_parent) {
		pr_err("parent %d exited during start-up", (int)expected_parent);
		return -ESRCH;
	}
	return 0;
}

/* Lets an unprivileged launcher install a seccomp filter; survives execve. */
int set_no_new_privs(void)
{
	int ret;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) {
		ret = -errno;
		pr_err("cannot set no_new_privs: %s", strerror(-ret));
		return ret;
	}
	return 0;
}
