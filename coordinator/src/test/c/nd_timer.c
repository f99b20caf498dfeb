// SPDX-License-Identifier: Apache-2.0
/*
 * Timers that end in a signal, and signals to a process group: where the signal lands in the program is decided
 * by the clock and the scheduler, and each mode prints where it saw it.
 *
 *   nd_timer alarm   alarm(1) under a handler (SA_RESTART) while the program loops on time(): at which call it came
 *   nd_timer itimer  setitimer(ITIMER_REAL) every 20 ms, five ticks taken while looping on time()
 *   nd_timer posix   timer_create(CLOCK_MONOTONIC, SIGUSR1) every 10 ms, three signals taken in sigsuspend, then
 *                    timer_gettime, timer_getoverrun and timer_delete
 *   nd_timer sleep   alarm(1) while nanosleep sleeps for 30 s: the handler runs and the sleep fails with EINTR,
 *                    leaving the time left (about 29 s)
 *   nd_timer ticks N setitimer(ITIMER_REAL) every 20 ms; "tick i" for each of N signals taken in sigsuspend
 *   nd_timer group   a new process group of the program and three children looping on time(); kill(0, SIGTERM),
 *                    which the program blocks and the children do not: each child's end, reaped in turn
 *   nd_timer orphan  as group, but the member is an orphan: a grandchild whose parent ended, which the replica's
 *                    init took; its handler says it took the signal, and its end closes the pipe the program reads
 *   nd_timer siginfo the siginfo a SA_SIGINFO handler gets from POSIX timers: two timers on SIGRTMIN told apart
 *                    by their sigev_value, taken in sigsuspend, and one created without a sigevent (glibc's:
 *                    SIGALRM, value 0) taken while looping on time()
 */
#include <errno.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CHILDREN 3

static volatile sig_atomic_t signals;

static void on_signal(int signo)
{
	(void)signo;
	signals++;
}

/* What a SA_SIGINFO handler was told, signal by signal. */
static struct {
	int code;
	int timer;
	int overrun;
	int value;
} infos[4];

static void on_siginfo(int signo, siginfo_t *info, void *context)
{
	(void)signo;
	(void)context;
	if (signals < (int)(sizeof(infos) / sizeof(infos[0]))) {
		infos[signals].code = info->si_code;
		infos[signals].timer = info->si_timerid;
		infos[signals].overrun = info->si_overrun;
		infos[signals].value = info->si_value.sival_int;
	}
	signals++;
}

static int handle(int signo, void (*handler)(int))
{
	struct sigaction action;

	memset(&action, 0, sizeof(action));
	action.sa_handler = handler;
	action.sa_flags = SA_RESTART;
	sigemptyset(&action.sa_mask);
	if (sigaction(signo, &action, NULL)) {
		perror("sigaction");
		return -1;
	}
	return 0;
}

/* Loop on time() until the handler has run `wanted` times; the calls it took. */
static long calls_until(int wanted)
{
	long calls = 0;

	while (signals < wanted) {
		(void)time(NULL);
		calls++;
	}
	return calls;
}

static int alarm_once(void)
{
	if (handle(SIGALRM, on_signal))
		return 1;
	printf("alarm(1) returned %u\n", alarm(1));
	printf("alarm after %ld calls\n", calls_until(1));
	printf("alarm(0) returned %u\n", alarm(0));
	return 0;
}

static int interval_timer(void)
{
	struct itimerval every = {.it_interval = {0, 20000}, .it_value = {0, 20000}}, now, off = {0};

	if (handle(SIGALRM, on_signal) || setitimer(ITIMER_REAL, &every, NULL))
		return 1;
	printf("ticks=%d after %ld calls\n", 5, calls_until(5));
	if (getitimer(ITIMER_REAL, &now) || setitimer(ITIMER_REAL, &off, NULL))
		return 1;
	printf("armed=%d interval_us=%ld\n", now.it_value.tv_sec > 0 || now.it_value.tv_usec > 0,
	       (long)now.it_interval.tv_usec);
	return 0;
}

static int posix_timer(void)
{
	struct sigevent event = {.sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGUSR1};
	struct itimerspec every = {.it_interval = {0, 10000000}, .it_value = {0, 10000000}}, now;
	sigset_t blocked, waiting;
	timer_t timer;

	sigemptyset(&blocked);
	sigaddset(&blocked, SIGUSR1);
	if (handle(SIGUSR1, on_signal) || sigprocmask(SIG_BLOCK, &blocked, &waiting))
		return 1;
	if (timer_create(CLOCK_MONOTONIC, &event, &timer) || timer_settime(timer, 0, &every, NULL)) {
		perror("timer_create or timer_settime");
		return 1;
	}
	while (signals < 3)
		sigsuspend(&waiting);
	if (timer_gettime(timer, &now) || timer_getoverrun(timer) < 0 || timer_delete(timer)) {
		perror("timer_gettime, timer_getoverrun or timer_delete");
		return 1;
	}
	printf("signals=%d armed=%d interval_ns=%ld\n", (int)signals, now.it_value.tv_sec > 0 || now.it_value.tv_nsec > 0,
	       now.it_interval.tv_nsec);
	printf("deleted: timer_gettime=%d\n", timer_gettime(timer, &now));
	return 0;
}

static int handle_info(int signo)
{
	struct sigaction action;

	memset(&action, 0, sizeof(action));
	action.sa_sigaction = on_siginfo;
	action.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&action.sa_mask);
	return sigaction(signo, &action, NULL);
}

static int arm_once(timer_t timer, long ms)
{
	struct itimerspec once = {.it_value = {0, ms * 1000000}};

	return timer_settime(timer, 0, &once, NULL);
}

static void print_info(int i, const timer_t *timers, int count)
{
	int which = -1, t;

	for (t = 0; t < count; t++)
		if ((int)(intptr_t)timers[t] == infos[i].timer)
			which = t;
	printf("signal %d: %s timer %d value %d overrun %d\n", i,
	       infos[i].code == SI_TIMER ? "SI_TIMER" : "other code", which, infos[i].value, infos[i].overrun);
}

static int timer_siginfo(void)
{
	struct sigevent first = {.sigev_notify = SIGEV_SIGNAL, .sigev_value.sival_int = 111},
			second = {.sigev_notify = SIGEV_SIGNAL, .sigev_value.sival_int = 222};
	timer_t timers[3];
	sigset_t blocked, waiting;
	int i;

	first.sigev_signo = second.sigev_signo = SIGRTMIN;
	sigemptyset(&blocked);
	sigaddset(&blocked, SIGRTMIN);
	if (handle_info(SIGRTMIN) || handle_info(SIGALRM) || sigprocmask(SIG_BLOCK, &blocked, &waiting))
		return 1;
	if (timer_create(CLOCK_MONOTONIC, &first, &timers[0]) || timer_create(CLOCK_MONOTONIC, &second, &timers[1]) ||
	    timer_create(CLOCK_REALTIME, NULL, &timers[2])) {
		perror("timer_create");
		return 1;
	}
	if (arm_once(timers[1], 40) || arm_once(timers[0], 10))
		return 1;
	while (signals < 2)
		sigsuspend(&waiting);
	if (arm_once(timers[2], 10))
		return 1;
	(void)calls_until(3);
	for (i = 0; i < 3; i++)
		print_info(i, timers, 3);
	return 0;
}

static int ticks(int count)
{
	struct itimerval every = {.it_interval = {0, 20000}, .it_value = {0, 20000}};
	sigset_t blocked, waiting;
	int printed = 0;

	sigemptyset(&blocked);
	sigaddset(&blocked, SIGALRM);
	if (handle(SIGALRM, on_signal) || sigprocmask(SIG_BLOCK, &blocked, &waiting) ||
	    setitimer(ITIMER_REAL, &every, NULL))
		return 1;
	while (printed < count) {
		sigsuspend(&waiting);
		while (printed < signals && printed < count)
			printf("tick %d\n", ++printed);
	}
	printf("done\n");
	return 0;
}

static int interrupted_sleep(void)
{
	struct timespec request = {30, 0}, left = {0, 0};
	int rc;

	if (handle(SIGALRM, on_signal))
		return 1;
	alarm(1);
	rc = nanosleep(&request, &left);
	printf("nanosleep returned %d (%s), handler ran %d time(s), %s 27 s left\n", rc,
	       rc ? strerrorname_np(errno) : "none", (int)signals, left.tv_sec >= 27 ? "over" : "under");
	return 0;
}

static int group_kill(void)
{
	pid_t children[CHILDREN];
	sigset_t term;
	int i, status;

	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	if (setpgid(0, 0) || sigprocmask(SIG_BLOCK, &term, NULL))
		return 1;
	for (i = 0; i < CHILDREN; i++) {
		fflush(stdout);
		children[i] = fork();
		if (children[i] < 0)
			return 1;
		if (children[i] == 0) {
			/* A SIGTERM sent before this waits, pending, until here. */
			sigprocmask(SIG_UNBLOCK, &term, NULL);
			for (;;)
				(void)time(NULL);
		}
	}
	printf("group %d\n", (int)getpgid(0) == (int)getpid());
	if (kill(0, SIGTERM))
		return 1;
	for (i = 0; i < CHILDREN; i++) {
		if (waitpid(children[i], &status, 0) != children[i])
			return 1;
		printf("child %d: %s %d\n", i, WIFSIGNALED(status) ? "signal" : "status",
		       WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
	}
	return 0;
}

static void on_term(int signo)
{
	static const char said[] = "orphan took SIGTERM\n";

	(void)signo;
	_exit(write(1, said, sizeof(said) - 1) == (ssize_t)sizeof(said) - 1 ? 0 : 1);
}

static int orphan_kill(void)
{
	sigset_t term;
	int ready[2], status;
	pid_t child;
	char byte;

	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	if (setpgid(0, 0) || sigprocmask(SIG_BLOCK, &term, NULL) || pipe(ready) || fflush(stdout))
		return 1;
	child = fork();
	if (child < 0)
		return 1;
	if (child == 0) {
		/* The grandchild holds the write end: its end is the pipe's. */
		if (fork() == 0) {
			close(ready[0]);
			if (handle(SIGTERM, on_term) || sigprocmask(SIG_UNBLOCK, &term, NULL) || write(ready[1], "r", 1) != 1)
				_exit(1);
			for (;;)
				(void)time(NULL);
		}
		_exit(0);
	}
	close(ready[1]);
	if (waitpid(child, &status, 0) != child || read(ready[0], &byte, 1) != 1)
		return 1;
	printf("the grandchild is an orphan now\n");
	if (kill(0, SIGTERM))
		return 1;
	if (read(ready[0], &byte, 1) != 0)
		return 1;
	printf("the orphan ended\n");
	return 0;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "alarm";

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!strcmp(mode, "alarm"))
		return alarm_once();
	if (!strcmp(mode, "itimer"))
		return interval_timer();
	if (!strcmp(mode, "posix"))
		return posix_timer();
	if (!strcmp(mode, "ticks"))
		return ticks(argc > 2 ? atoi(argv[2]) : 10);
	if (!strcmp(mode, "sleep"))
		return interrupted_sleep();
	if (!strcmp(mode, "group"))
		return group_kill();
	if (!strcmp(mode, "siginfo"))
		return timer_siginfo();
	if (!strcmp(mode, "orphan"))
		return orphan_kill();
	fprintf(stderr, "usage: nd_timer alarm|itimer|posix|ticks N|sleep|group|siginfo|orphan\n");
	return 2;
}
