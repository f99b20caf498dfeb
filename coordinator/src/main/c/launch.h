/* SPDX-License-Identifier: Apache-2.0 */
/*
 * replicore-launch: starts one replica of an unmodified program under a
 * seccomp user-notification filter whose listener is handed to the Java
 * coordinator of that replica.
 *
 * Every function returns 0 (or a non-negative value) on success and a
 * negative errno on failure; callers check and report.  Messages go to
 * stderr prefixed "replicore-launch: " and only before the filter exists.
 */
#ifndef REPLICORE_LAUNCH_H
#define REPLICORE_LAUNCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sched.h>
#include <linux/filter.h>

#define LAUNCH_NAME		"replicore-launch"

/* Exit codes, as env(1) and the shells use them. */
#define EXIT_LAUNCH_FAILURE	125
#define EXIT_CANNOT_EXECUTE	126
#define EXIT_NOT_FOUND		127

/* Control protocol (little-endian, native struct layout). */
#define CTL_HELLO_MAGIC		0x434e4c52u	/* "RLNC" */
#define CTL_HELLO_VERSION	1u
#define CTL_FILTER_MAGIC	0x544c4652u	/* "RFLT" */
#define CTL_LISTENER_MAGIC	0x4e54534cu	/* "LSTN" */
#define CTL_FILTER_MAX		4096u		/* BPF_MAXINSNS */

struct ctl_hello {
	uint32_t magic;
	uint32_t version;
	uint32_t pid;
} __attribute__((packed));

struct ctl_filter_hdr {
	uint32_t magic;
	uint32_t count;
} __attribute__((packed));

struct ctl_listener {
	uint32_t magic;
	int32_t status;		/* 0, or -errno of seccomp(2) */
} __attribute__((packed));

struct bind_mount {
	const char *src;
	const char *dst;
};

struct launch_opts {
	const char *control_path;
	const char *cpus;		/* NULL: leave affinity alone */
	const char *chdir_dir;		/* NULL: stay where we are */
	bool die_with_parent;
	struct bind_mount *binds;
	size_t nr_binds;
	char *const *argv;		/* PROGRAM, ARGS..., NULL */
};

/* main.c */
void pr_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* exec_path.c */
int resolve_program(const char *name, char **path);
int exec_failure_code(int err);

/* affinity.c */
int parse_cpu_list(const char *list, cpu_set_t *set);
int apply_affinity(const char *list);

/* prctl.c */
int die_with_parent(pid_t expected_parent);
int set_no_new_privs(void);

/* mounts.c */
int apply_binds(const struct bind_mount *binds, size_t nr);

/* pidns.c */
int enter_pid_namespace(void);

/* persona.c */
int disable_aslr(void);

/* control.c */
int control_connect(const char *path);
int control_send_hello(int fd);
int control_recv_filter(int fd, struct sock_fprog *prog);
int control_send_listener(int fd, int status, int listener_fd);

/* seccomp_listener.c */
int seccomp_handoff_prepare(int control_fd);
void __attribute__((noreturn))
seccomp_install_and_exec(struct sock_fprog *prog, const char *path,
			 char *const argv[]);

#endif /* REPLICORE_LAUNCH_H */
