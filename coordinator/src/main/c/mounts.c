// SPDX-License-Identifier: Apache-2.0
/*
 * --bind SRC:DST: each replica sees its own copy of the program's state at
 * the same path, so file names (and everything derived from them) are
 * identical across replicas while the files are not shared.
 */
#include <errno.h>
#include <sched.h>
#include <string.h>
#include <sys/mount.h>

#include "launch.h"

/* A mount namespace of our own, whose changes never leak to the host. */
static int private_mount_ns(void)
{
	int ret;

	if (unshare(CLONE_NEWNS)) {
		ret = -errno;
		pr_err("cannot create a mount namespace: %s", strerror(-ret));
		return ret;
	}
	/* "/" is often MS_SHARED (systemd): stop propagation both ways. */
	if (mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL)) {
		ret = -errno;
		pr_err("cannot make / private: %s", strerror(-ret));
		return ret;
	}
	return 0;
}

static int bind_one(const struct bind_mount *b)
{
	int ret;

	if (mount(b->src, b->dst, NULL, MS_BIND | MS_REC, NULL)) {
		ret = -errno;
		pr_err("cannot bind %s onto %s: %s", b->src, b->dst,
		       strerror(-ret));
		return ret;
	}
	return 0;
}

int apply_binds(const struct bind_mount *binds, size_t nr)
{
	size_t i;
	int ret;

	ret = private_mount_ns();
	if (ret)
		return ret;
	for (i = 0; i < nr; i++) {
		ret = bind_one(&binds[i]);
		if (ret)
			return ret;
	}
	return 0;
}
