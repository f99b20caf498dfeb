// SPDX-License-Identifier: Apache-2.0
/*
 * Host identity and /proc contents: uname(2), /proc/self/stat,
 * /proc/uptime and the Pid: line of /proc/self/status.
 */
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>

/* Prints the first line of @path, or the first line starting with @prefix. */
static int print_line(const char *key, const char *path, const char *prefix)
{
	char line[4096];
	FILE *f;
	int ret = -1;

	f = fopen(path, "re");
	if (!f) {
		perror(path);
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		if (prefix && strncmp(line, prefix, strlen(prefix)))
			continue;
		line[strcspn(line, "\n")] = '\0';
		printf("%s=%s\n", key, line);
		ret = 0;
		break;
	}
	if (ret)
		fprintf(stderr, "%s: line not found\n", path);
	fclose(f);
	return ret;
}

int main(void)
{
	struct utsname u;

	if (uname(&u)) {
		perror("uname");
		return 1;
	}
	printf("sysname=%s\n", u.sysname);
	printf("nodename=%s\n", u.nodename);
	printf("release=%s\n", u.release);
	printf("version=%s\n", u.version);
	printf("machine=%s\n", u.machine);
	if (print_line("proc_self_stat", "/proc/self/stat", NULL) ||
	    print_line("proc_uptime", "/proc/uptime", NULL) ||
	    print_line("proc_self_status_pid", "/proc/self/status", "Pid:"))
		return 1;
	return 0;
}
