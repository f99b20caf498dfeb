// SPDX-License-Identifier: Apache-2.0
/*
 * replicore-gate attach DEVICE ADDRESS
 * replicore-gate detach DEVICE
 *
 * The loader of the acknowledgement gate (gate.bpf.c, architecture 6d) of a
 * kernel partition's coordinator.
 *
 * attach: loads replicore-gate.bpf.o (next to this program), attaches its
 * egress and ingress programs to DEVICE's clsact hook (made if missing; an
 * earlier gate's filters are replaced), sets the service ADDRESS (IPv4), then
 * prints "maps CONFIG CAPS HELD COUNTERS", the maps' descriptor numbers in
 * this process, and waits for a line (or the end) on its standard input while
 * the coordinator borrows them with pidfd_getfd.  The programs stay attached
 * when it exits: the filters hold them, and they hold their maps.
 *
 * detach: removes the gate's filters from DEVICE.
 *
 * Exit status: 0 done, 1 failed (the reason on stderr), 2 bad arguments.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "gate.h"

#define NAME "replicore-gate"
#define OBJECT "replicore-gate.bpf.o"
/* The gate's filters on the clsact hook, told apart from anyone else's. */
#define GATE_HANDLE 0x5250
#define GATE_PRIORITY 0x5250

static int fail(const char *what, int error)
{
	fprintf(stderr, NAME ": %s: %s\n", what, strerror(error < 0 ? -error : error));
	return 1;
}

/* The object file beside this program's own. */
static int object_path(char *path, size_t size)
{
	ssize_t length = readlink("/proc/self/exe", path, size - 1);
	char *slash;

	if (length < 0)
		return -errno;
	path[length] = '\0';
	slash = strrchr(path, '/');
	if (!slash || (size_t)(slash - path) + sizeof("/" OBJECT) > size)
		return -ENAMETOOLONG;
	strcpy(slash + 1, OBJECT);
	return 0;
}

/* The device's clsact qdisc, both hooks at once; one already there (an earlier gate's) serves. */
static int make_hooks(int ifindex)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS);
	int err = bpf_tc_hook_create(&hook);

	return err == -EEXIST ? 0 : err;
}

static int attach_program(int ifindex, enum bpf_tc_attach_point point, struct bpf_program *program)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = point);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = GATE_HANDLE, .priority = GATE_PRIORITY,
			    .prog_fd = bpf_program__fd(program), .flags = BPF_TC_F_REPLACE);

	return bpf_tc_attach(&hook, &opts);
}

static int map_fd(struct bpf_object *object, const char *name)
{
	struct bpf_map *map = bpf_object__find_map_by_name(object, name);

	return map ? bpf_map__fd(map) : -ENOENT;
}

static int attach(const char *device, const char *address)
{
	struct gate_config settings = { 0 };
	char path[PATH_MAX];
	struct bpf_object *object;
	int ifindex = (int)if_nametoindex(device);
	__u32 zero = 0;
	char line[16];
	int err;

	if (!ifindex)
		return fail(device, errno);
	if (inet_pton(AF_INET, address, &settings.service_address) != 1) {
		fprintf(stderr, NAME ": %s is not an IPv4 address\n", address);
		return 2;
	}
	err = object_path(path, sizeof(path));
	if (err)
		return fail("finding " OBJECT, err);
	object = bpf_object__open_file(path, NULL);
	if (!object)
		return fail(path, errno);
	err = bpf_object__load(object);
	if (err)
		return fail("loading the gate (the kernel's verifier or BPF support)", err);
	err = make_hooks(ifindex);
	if (err)
		return fail("making the device's clsact hooks (sch_ingress)", err);
	err = attach_program(ifindex, BPF_TC_EGRESS, bpf_object__find_program_by_name(object, "gate_egress"));
	if (err)
		return fail("attaching to the egress of the device (clsact, cls_bpf)", err);
	err = attach_program(ifindex, BPF_TC_INGRESS, bpf_object__find_program_by_name(object, "gate_ingress"));
	if (err)
		return fail("attaching to the ingress of the device", err);
	err = bpf_map_update_elem(map_fd(object, "config"), &zero, &settings, BPF_ANY);
	if (err)
		return fail("setting the service address", err);
	printf("maps %d %d %d %d\n", map_fd(object, "config"), map_fd(object, "caps"), map_fd(object, "held"),
	       map_fd(object, "counters"));
	fflush(stdout);
	/* The coordinator borrows the maps meanwhile; they outlive this process through the filters. */
	if (!fgets(line, sizeof(line), stdin) && ferror(stdin))
		return fail("reading standard input", errno);
	return 0;
}

static int detach(const char *device)
{
	int ifindex = (int)if_nametoindex(device);
	enum bpf_tc_attach_point points[] = { BPF_TC_EGRESS, BPF_TC_INGRESS };
	size_t i;

	if (!ifindex)
		return fail(device, errno);
	for (i = 0; i < sizeof(points) / sizeof(points[0]); i++) {
		DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = points[i]);
		DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = GATE_HANDLE, .priority = GATE_PRIORITY);
		int err = bpf_tc_detach(&hook, &opts);

		if (err && err != -ENOENT && err != -EINVAL)
			return fail("detaching from the device", err);
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "attach") == 0)
		return attach(argv[2], argv[3]);
	if (argc == 3 && strcmp(argv[1], "detach") == 0)
		return detach(argv[2]);
	fprintf(stderr, "usage: " NAME " attach DEVICE ADDRESS | " NAME " detach DEVICE\n");
	return 2;
}
