// SPDX-License-Identifier: Apache-2.0
/*
 * Installing the coordinator's filter and handing its listener over.
 *
 * Once the filter is installed, any system call of the main thread may be
 * turned into a notification that only the holder of the listener can
 * answer, and the coordinator does not hold it yet: a sendmsg() from the
 * main thread could block forever.  So the listener is sent by a helper
 * thread created before the filter (a filter installed without TSYNC
 * applies to the calling thread only), and the main thread makes no system
 * call between seccomp(2) and execve(2): it publishes the listener through
 * C11 atomics and spins until the helper says it is sent.
 *
 * Failures after the filter are handled by the helper, which is not
 * filtered: it writes the message and ends the whole process with
 * exit_group(125).  The main thread could do neither: its write(2) or
 * exit_group(2) may be notified to a coordinator that never got the
 * listener (and with the listener gone, every call fails with ENOSYS, so
 * glibc's _exit would fall through to hlt and SIGSEGV).  A failed execve
 * is the exception: the coordinator has the listener by then, so the main
 * thread's silent _exit(126/127) is answered like any other call.
 *
 * The launcher is linked with -z now so that no lazy PLT binding (and no
 * hidden work in the dynamic linker) happens after the filter.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/seccomp.h>

#include "launch.h"

/* Neither a descriptor nor a negative errno. */
#define HANDOFF_PENDING		INT_MIN

/* Helper spins this many rounds before it starts yielding the CPU. */
#define HELPER_SPINS		1000

static struct {
	atomic_int listener;	/* listener fd, -errno, or PENDING */
	atomic_int sent;	/* 0 once sent, else PENDING */
	int control_fd;
} handoff;

/* The helper may use system calls, so it yields when the wait is long. */
static int helper_wait_listener(void)
{
	unsigned int spins = 0;
	int listener;

	for (;;) {
		listener = atomic_load_explicit(&handoff.listener,
						memory_order_acquire);
		if (listener != HANDOFF_PENDING)
			return listener;
		if (++spins < HELPER_SPINS)
			__builtin_ia32_pause();
		else
			sched_yield();	/* cannot fail on Linux */
	}
}

static void *helper_main(void *arg)
{
	int listener, status, ret;

	(void)arg;
	listener = helper_wait_listener();
	status = listener < 0 ? listener : 0;
	ret = control_send_listener(handoff.control_fd, status, listener);
	if (status)
		pr_err("cannot install seccomp filter: %s", strerror(-status));
	if (ret)
		pr_err("cannot send listener to coordinator: %s",
		       strerror(-ret));
	if (status || ret)
		_exit(EXIT_LAUNCH_FAILURE);
	atomic_store_explicit(&handoff.sent, 0, memory_order_release);
	return NULL;
}

static int start_helper(void)
{
	pthread_attr_t attr;
	pthread_t helper;
	int ret;

	ret = pthread_attr_init(&attr);
	if (ret)
		return ret;
	/* Nobody joins it: the main thread's next stop is execve. */
	ret = pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (!ret)
		ret = pthread_create(&helper, &attr, helper_main, NULL);
	pthread_attr_destroy(&attr);
	return ret;
}

int seccomp_handoff_prepare(int control_fd)
{
	sigset_t all, old;
	int ret, ret2;

	atomic_init(&handoff.listener, HANDOFF_PENDING);
	atomic_init(&handoff.sent, HANDOFF_PENDING);
	handoff.control_fd = control_fd;

	/*
	 * The helper is born with every signal blocked: signals sent to the
	 * process belong to the main thread, which becomes the program.
	 */
	sigfillset(&all);
	ret = pthread_sigmask(SIG_SETMASK, &all, &old);
	if (ret) {
		pr_err("cannot block signals: %s", strerror(ret));
		return -ret;
	}
	ret = start_helper();
	ret2 = pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret) {
		pr_err("cannot start helper thread: %s", strerror(ret));
		return -ret;
	}
	if (ret2) {
		pr_err("cannot restore signal mask: %s", strerror(ret2));
		return -ret2;
	}
	return 0;
}

/*
 * Nothing in here may make a system call after seccomp(2) but execve(2):
 * only plain memory accesses, atomics and pause.
 */
void seccomp_install_and_exec(struct sock_fprog *prog, const char *path,
			      char *const argv[])
{
	long fd;
	int listener, sent;

	fd = syscall(__NR_seccomp, SECCOMP_SET_MODE_FILTER,
		     SECCOMP_FILTER_FLAG_NEW_LISTENER, prog);
	listener = fd < 0 ? -errno : (int)fd;
	atomic_store_explicit(&handoff.listener, listener,
			      memory_order_release);

	while ((sent = atomic_load_explicit(&handoff.sent,
					    memory_order_acquire)) ==
	       HANDOFF_PENDING)
		__builtin_ia32_pause();
	/* Not reached on failure: the helper ends the process itself. */
	if (sent)
		_exit(EXIT_LAUNCH_FAILURE);

	execve(path, argv, environ);
	/* Silent: the coordinator sees the failed execve if it traps it. */
	_exit(exec_failure_code(errno));
}
