// SPDX-License-Identifier: Apache-2.0
/*
 * The control socket between the launcher and its coordinator:
 *
 *   launcher    -> coordinator  HELLO    u32 "RLNC", u32 version, u32 pid
 *   coordinator -> launcher     FILTER   u32 "RFLT", u32 count,
 *                                        count x struct sock_filter
 *   launcher    -> coordinator  LISTENER u32 "LSTN", i32 status
 *                                        + SCM_RIGHTS listener fd if status == 0
 *
 * The filter comes from the coordinator: the Java side owns the policy.
 * The socket is SOCK_CLOEXEC so the program starts with exactly the
 * descriptors the launcher inherited.
 */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "launch.h"

_Static_assert(sizeof(struct sock_filter) == 8, "sock_filter is 8 bytes");
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
	       "sock_filter is sent in native layout, assumed little-endian");

int control_connect(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd, ret;

	/* Length checked while parsing the arguments. */
	strncpy(addr.sun_path, path, sizeof(addr.sun_path) - 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		ret = -errno;
		pr_err("cannot create control socket: %s", strerror(-ret));
		return ret;
	}
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr))) {
		ret = -errno;
		pr_err("cannot connect to %s: %s", path, strerror(-ret));
		close(fd);
		return ret;
	}
	return fd;
}

static int send_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t n;

	while (len) {
		/* MSG_NOSIGNAL: a vanished coordinator is an error, not SIGPIPE. */
		n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= n;
	}
	return 0;
}

static int recv_all(int fd, void *buf, size_t len)
{
	char *p = buf;
	ssize_t n;

	while (len) {
		n = recv(fd, p, len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ECONNRESET;	/* coordinator closed early */
		p += n;
		len -= n;
	}
	return 0;
}

int control_send_hello(int fd)
{
	struct ctl_hello hello = {
		.magic = htole32(CTL_HELLO_MAGIC),
		.version = htole32(CTL_HELLO_VERSION),
		.pid = htole32((uint32_t)getpid()),
	};
	int ret;

	ret = send_all(fd, &hello, sizeof(hello));
	if (ret)
		pr_err("cannot send HELLO: %s", strerror(-ret));
	return ret;
}

static int recv_filter_header(int fd, uint32_t *count)
{
	struct ctl_filter_hdr hdr;
	int ret;

	ret = recv_all(fd, &hdr, sizeof(hdr));
	if (ret) {
		pr_err("cannot receive FILTER: %s", strerror(-ret));
		return ret;
	}
	if (le32toh(hdr.magic) != CTL_FILTER_MAGIC) {
		pr_err("bad FILTER magic 0x%08x", le32toh(hdr.magic));
		return -EPROTO;
	}
	*count = le32toh(hdr.count);
	if (*count == 0 || *count > CTL_FILTER_MAX) {
		pr_err("bad FILTER length %u (1..%u)", *count, CTL_FILTER_MAX);
		return -EPROTO;
	}
	return 0;
}

int control_recv_filter(int fd, struct sock_fprog *prog)
{
	struct sock_filter *insns;
	uint32_t count;
	int ret;

	ret = recv_filter_header(fd, &count);
	if (ret)
		return ret;
	insns = calloc(count, sizeof(*insns));
	if (!insns) {
		pr_err("out of memory");
		return -ENOMEM;
	}
	ret = recv_all(fd, insns, count * sizeof(*insns));
	if (ret) {
		pr_err("cannot receive FILTER program: %s", strerror(-ret));
		free(insns);
		return ret;
	}
	prog->len = (unsigned short)count;
	prog->filter = insns;
	return 0;
}

/*
 * Called from the helper thread (the one without the filter).  The fd is
 * attached only on success; the message is one sendmsg so that the
 * coordinator gets the status and the descriptor together.
 */
int control_send_listener(int fd, int status, int listener_fd)
{
	struct ctl_listener msg = {
		.magic = htole32(CTL_LISTENER_MAGIC),
		.status = (int32_t)htole32((uint32_t)status),
	};
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} control;
	struct iovec iov = { .iov_base = &msg, .iov_len = sizeof(msg) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *cmsg;
	ssize_t n;

	if (status == 0) {
		memset(&control, 0, sizeof(control));
		mh.msg_control = control.buf;
		mh.msg_controllen = sizeof(control.buf);
		cmsg = CMSG_FIRSTHDR(&mh);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		cmsg->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cmsg), &listener_fd, sizeof(int));
	}
	do {
		n = sendmsg(fd, &mh, MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	/* The descriptor went with the first byte; finish a short send. */
	return send_all(fd, (char *)&msg + n, sizeof(msg) - n);
}
