package io.replicore.coordinator.natives;

import jnr.ffi.Pointer;
import jnr.ffi.annotations.SaveError;

/**
 * The seccomp user-notification listener: receive a notification, answer it, install a descriptor in the
 * notifying process. Constants from linux/seccomp.h (x86_64).
 */
public interface SeccompIoctl
{
    long NOTIF_RECV = 0xc0502100L;
    long NOTIF_SEND = 0xc0182101L;
    long NOTIF_ID_VALID = 0x40082102L;
    long NOTIF_ADDFD = 0x40182103L;
    long NOTIF_SET_FLAGS = 0x40082104L;

    /** Wake the notifying thread on the answering CPU: a cross-core wake-up costs about ten times more here. */
    long USER_NOTIF_FD_SYNC_WAKE_UP = 1;
    int USER_NOTIF_FLAG_CONTINUE = 1;
    int ADDFD_FLAG_SETFD = 1;
    int ADDFD_FLAG_SEND = 2;

    /** struct seccomp_notif: id u64, pid u32, flags u32, then struct seccomp_data. */
    int NOTIF_LENGTH = 80;
    int NOTIF_ID_OFFSET = 0;
    int NOTIF_PID_OFFSET = 8;
    int DATA_NR_OFFSET = 16;
    int DATA_ARCH_OFFSET = 20;
    int DATA_IP_OFFSET = 24;
    int DATA_ARGS_OFFSET = 32;

    /** struct seccomp_notif_resp: id u64, val s64, error s32, flags u32. */
    int RESP_LENGTH = 24;
    int RESP_ID_OFFSET = 0;
    int RESP_VAL_OFFSET = 8;
    int RESP_ERROR_OFFSET = 16;
    int RESP_FLAGS_OFFSET = 20;

    /** struct seccomp_notif_addfd: id u64, flags u32, srcfd u32, newfd u32, newfd_flags u32. */
    int ADDFD_LENGTH = 24;

    @SaveError
    int ioctl(int fd, long request, Pointer argument);

    /**
     * For requests whose argument is a value, not a pointer (SECCOMP_IOCTL_NOTIF_SET_FLAGS).
     */
    @SaveError
    int ioctl(int fd, long request, long argument);
}
