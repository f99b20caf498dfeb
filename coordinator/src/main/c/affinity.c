// SPDX-License-Identifier: Apache-2.0
/*
 * --cpus LIST: pins the replica to its partition's CPUs.  Set while the
 * launcher is still single-threaded so that the helper thread and the
 * program (affinity survives execve) inherit it.
 */
#include <ctype.h>
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "launch.h"

/* Parses one decimal CPU number at *p and advances *p past it. */
static int parse_cpu(const char **p, unsigned long *cpu)
{
	char *end;

	if (!isdigit((unsigned char)**p))
		return -EINVAL;
	errno = 0;
	*cpu = strtoul(*p, &end, 10);
	if (errno || *cpu >= CPU_SETSIZE)
		return -ERANGE;
	*p = end;
	return 0;
}

/* One "N" or "N-M" element of the list. */
static int parse_cpu_range(const char **p, cpu_set_t *set)
{
	unsigned long first, last, cpu;
	int ret;

	ret = parse_cpu(p, &first);
	if (ret)
		return ret;
	last = first;
	if (**p == '-') {
		(*p)++;
		ret = parse_cpu(p, &last);
		if (ret)
			return ret;
		if (last < first)
			return -EINVAL;
	}
	for (cpu = first; cpu <= last; cpu++)
		CPU_SET(cpu, set);
	return 0;
}

int parse_cpu_list(const char *list, cpu_set_t *set)
{
	const char *p = list;
	int ret;

	CPU_ZERO(set);
	for (;;) {
		ret = parse_cpu_range(&p, set);
		if (ret)
			break;
		if (*p == '\0')
			return 0;
		if (*p != ',') {
			ret = -EINVAL;
			break;
		}
		p++;
	}
	pr_err("--cpus expects a list like 0,2-3 (CPUs below %d), got '%s'",
	       CPU_SETSIZE, list);
	return ret;
}

int apply_affinity(const char *list)
{
	cpu_set_t set;
	int ret;

	ret = parse_cpu_list(list, &set);
	if (ret)
		return ret;
	if (sched_setaffinity(0, sizeof(set), &set)) {
		ret = -errno;
		pr_err("cannot set CPU affinity to %s: %s", list,
		       strerror(-ret));
		return ret;
	}
	return 0;
}
