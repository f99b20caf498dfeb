// SPDX-License-Identifier: Apache-2.0
/*
 * replicore-launch --control PATH [--cpus LIST] [--bind SRC:DST]...
 *                  [--chdir DIR] [--die-with-parent] -- PROGRAM [ARGS...]
 *
 * Argument parsing and the order of the steps.  Each step lives in the
 * file named after its mechanism.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "launch.h"

void pr_err(const char *fmt, ...)
{
	va_list ap;

	fputs(LAUNCH_NAME ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void __attribute__((noreturn)) fail(int code)
{
	/* stderr is unbuffered, nothing else to flush. */
	exit(code);
}

static int parse_bind(const char *spec, struct bind_mount *bind)
{
	/* The first ':' separates SRC from DST, as in "docker -v". */
	const char *colon = strchr(spec, ':');
	char *src;

	if (!colon || colon == spec || colon[1] == '\0') {
		pr_err("--bind expects SRC:DST, got '%s'", spec);
		return -EINVAL;
	}
	src = strndup(spec, colon - spec);
	if (!src) {
		pr_err("out of memory");
		return -ENOMEM;
	}
	bind->src = src;
	bind->dst = colon + 1;
	return 0;
}

/* Takes the value of option argv[*i]; fails if it is missing. */
static int take_value(int argc, char **argv, int *i, const char **value)
{
	if (*i + 1 >= argc) {
		pr_err("option %s requires a value", argv[*i]);
		return -EINVAL;
	}
	*i += 1;
	*value = argv[*i];
	return 0;
}

static int set_once(const char *opt, const char **slot, const char *value)
{
	if (*slot) {
		pr_err("option %s given twice", opt);
		return -EINVAL;
	}
	if (value[0] == '\0') {
		pr_err("option %s requires a non-empty value", opt);
		return -EINVAL;
	}
	*slot = value;
	return 0;
}

static int parse_option(int argc, char **argv, int *i, struct launch_opts *o)
{
	const char *opt = argv[*i];
	const char *value;
	int ret;

	if (!strcmp(opt, "--die-with-parent")) {
		o->die_with_parent = true;
		return 0;
	}
	if (strcmp(opt, "--control") && strcmp(opt, "--cpus") &&
	    strcmp(opt, "--chdir") && strcmp(opt, "--bind")) {
		pr_err("unknown option '%s'", opt);
		return -EINVAL;
	}
	ret = take_value(argc, argv, i, &value);
	if (ret)
		return ret;
	if (!strcmp(opt, "--control"))
		return set_once(opt, &o->control_path, value);
	if (!strcmp(opt, "--cpus"))
		return set_once(opt, &o->cpus, value);
	if (!strcmp(opt, "--chdir"))
		return set_once(opt, &o->chdir_dir, value);
	return parse_bind(value, &o->binds[o->nr_binds++]);
}

static int check_opts(const struct launch_opts *o)
{
	cpu_set_t set;

	if (!o->control_path) {
		pr_err("missing --control PATH");
		return -EINVAL;
	}
	if (strlen(o->control_path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		pr_err("--control path too long: %s", o->control_path);
		return -ENAMETOOLONG;
	}
	/* Catch a malformed list now, with the other usage errors. */
	if (o->cpus && parse_cpu_list(o->cpus, &set))
		return -EINVAL;
	return 0;
}

static int parse_args(int argc, char **argv, struct launch_opts *o)
{
	int i, ret;

	memset(o, 0, sizeof(*o));
	/* There cannot be more binds than arguments. */
	o->binds = calloc(argc, sizeof(*o->binds));
	if (!o->binds) {
		pr_err("out of memory");
		return -ENOMEM;
	}
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--"))
			break;
		ret = parse_option(argc, argv, &i, o);
		if (ret)
			return ret;
	}
	if (i >= argc) {
		pr_err("missing '--' before PROGRAM");
		return -EINVAL;
	}
	if (i + 1 >= argc || argv[i + 1][0] == '\0') {
		pr_err("missing PROGRAM after '--'");
		return -EINVAL;
	}
	o->argv = &argv[i + 1];
	return check_opts(o);
}

static int change_dir(const char *dir)
{
	if (chdir(dir)) {
		int err = errno;

		pr_err("cannot chdir to %s: %s", dir, strerror(err));
		return -err;
	}
	return 0;
}

/* Steps 2-7: shape the process the program will run in. */
static int prepare_process(const struct launch_opts *o, pid_t parent)
{
	int ret;

	if (o->cpus) {
		ret = apply_affinity(o->cpus);
		if (ret)
			return ret;
	}
	if (o->die_with_parent) {
		ret = die_with_parent(parent);
		if (ret)
			return ret;
	}
	if (o->nr_binds) {
		ret = apply_binds(o->binds, o->nr_binds);
		if (ret)
			return ret;
	}
	if (o->chdir_dir) {
		ret = change_dir(o->chdir_dir);
		if (ret)
			return ret;
	}
	ret = disable_aslr();
	if (ret)
		return ret;
	return set_no_new_privs();
}

/* Steps 8-9 up to the filter: connect, greet, receive the policy. */
static int fetch_filter(const char *control_path, struct sock_fprog *prog)
{
	int fd, ret;

	fd = control_connect(control_path);
	if (fd < 0)
		return fd;
	ret = control_send_hello(fd);
	if (ret)
		return ret;
	ret = control_recv_filter(fd, prog);
	if (ret)
		return ret;
	return fd;
}

int main(int argc, char **argv)
{
	/* Seen before anything else, for the PR_SET_PDEATHSIG race check. */
	pid_t parent = getppid();
	struct launch_opts opts;
	struct sock_fprog prog;
	char *path;
	int fd, ret;

	if (parse_args(argc, argv, &opts))
		fail(EXIT_LAUNCH_FAILURE);
	if (prepare_process(&opts, parent))
		fail(EXIT_LAUNCH_FAILURE);
	/* From here on, in the program's process inside its pid namespace. */
	if (enter_pid_namespace())
		fail(EXIT_LAUNCH_FAILURE);
	/*
	 * Resolved after --bind and --chdir, so that PATH search and relative
	 * names see the same file system execve(2) will see, and before the
	 * filter, after which the main thread may call nothing but execve.
	 */
	ret = resolve_program(opts.argv[0], &path);
	if (ret)
		fail(exec_failure_code(-ret));
	fd = fetch_filter(opts.control_path, &prog);
	if (fd < 0)
		fail(EXIT_LAUNCH_FAILURE);
	if (seccomp_handoff_prepare(fd))
		fail(EXIT_LAUNCH_FAILURE);
	seccomp_install_and_exec(&prog, path, opts.argv);
}
