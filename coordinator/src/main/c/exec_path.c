// SPDX-License-Identifier: Apache-2.0
/*
 * execvp(3)-style lookup of PROGRAM, done before the seccomp filter is
 * installed: afterwards the main thread may not call anything but execve.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "launch.h"

/* glibc's execvp uses this when PATH is unset. */
#define DEFAULT_PATH	"/bin:/usr/bin"

/* 0 if @path is an executable regular file, else a negative errno. */
static int check_executable(const char *path)
{
	struct stat st;

	if (stat(path, &st))
		return -errno;
	if (S_ISDIR(st.st_mode))
		return -EISDIR;
	if (!S_ISREG(st.st_mode))
		return -EACCES;
	if (access(path, X_OK))
		return -errno;
	return 0;
}

/* Builds "DIR/NAME"; an empty DIR means the current directory. */
static int join_path(const char *dir, size_t dir_len, const char *name,
		     char **out)
{
	int n;

	if (dir_len == 0)
		n = asprintf(out, "%s", name);
	else
		n = asprintf(out, "%.*s/%s", (int)dir_len, dir, name);
	if (n < 0) {
		*out = NULL;
		return -ENOMEM;
	}
	return 0;
}

/*
 * Tries each PATH entry in turn.  Like execvp, a "permission denied" entry
 * is remembered but the search goes on; it is reported only if nothing
 * later matches.
 */
static int search_path(const char *name, char **path)
{
	const char *dirs = getenv("PATH");
	const char *dir, *end;
	int seen_eacces = 0;
	char *candidate;
	int ret;

	if (!dirs)
		dirs = DEFAULT_PATH;
	for (dir = dirs; ; dir = end + 1) {
		end = strchrnul(dir, ':');
		ret = join_path(dir, end - dir, name, &candidate);
		if (ret)
			return ret;
		ret = check_executable(candidate);
		if (!ret) {
			*path = candidate;
			return 0;
		}
		free(candidate);
		if (ret == -EACCES || ret == -EISDIR)
			seen_eacces = 1;
		if (*end == '\0')
			break;
	}
	return seen_eacces ? -EACCES : -ENOENT;
}

int resolve_program(const char *name, char **path)
{
	int ret;

	if (strlen(name) >= PATH_MAX) {
		pr_err("%.64s...: %s", name, strerror(ENAMETOOLONG));
		return -ENAMETOOLONG;
	}
	if (strchr(name, '/')) {
		ret = check_executable(name);
		if (!ret) {
			*path = (char *)name;
			return 0;
		}
	} else {
		ret = search_path(name, path);
		if (!ret)
			return 0;
	}
	if (ret == -ENOENT && !strchr(name, '/'))
		pr_err("%s: command not found", name);
	else
		pr_err("%s: %s", name, strerror(-ret));
	return ret;
}

/* 127 when there is nothing to run, 126 when it exists but cannot run. */
int exec_failure_code(int err)
{
	switch (err) {
	case ENOENT:
	case ENOTDIR:
	case ELOOP:
	case ENAMETOOLONG:
		return EXIT_NOT_FOUND;
	case ENOMEM:
		return EXIT_LAUNCH_FAILURE;
	default:
		return EXIT_CANNOT_EXECUTE;
	}
}
