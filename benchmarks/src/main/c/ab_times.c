// SPDX-License-Identifier: Apache-2.0
/*
 * ab_times.so, preloaded into ab by bin/bench-failover and bin/bench-kernels: ab's socket() and close() of each
 * request's connection, timed with CLOCK_REALTIME (the clock of date +%s.%N and of the benchmarks' kill times),
 * kept in memory and written as "start_us<TAB>end_us" lines to the file $AB_TIMES names when ab exits. ab's own -g
 * file gives a request's start only to the whole second and sorts the requests by time taken.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

#define MAX_FD 65536
static long long started_us[MAX_FD];
static long long (*requests)[2];
static size_t count, capacity;

static long long now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

int socket(int domain, int type, int protocol)
{
    static int (*real)(int, int, int);
    if (!real)
        real = (int (*)(int, int, int))dlsym(RTLD_NEXT, "socket");
    long long now = now_us();
    int fd = real(domain, type, protocol);
    if (fd >= 0 && fd < MAX_FD && (domain == AF_INET || domain == AF_INET6))
        started_us[fd] = now;
    return fd;
}

int close(int fd)
{
    static int (*real)(int);
    if (!real)
        real = (int (*)(int))dlsym(RTLD_NEXT, "close");
    if (fd >= 0 && fd < MAX_FD && started_us[fd]) {
        if (count == capacity) {
            capacity = capacity ? 2 * capacity : 65536;
            requests = realloc(requests, capacity * sizeof *requests);
            if (!requests)
                abort();
        }
        requests[count][0] = started_us[fd];
        requests[count][1] = now_us();
        count++;
        started_us[fd] = 0;
    }
    return real(fd);
}

__attribute__((destructor)) static void write_times(void)
{
    const char *path = getenv("AB_TIMES");
    FILE *file = path ? fopen(path, "w") : NULL;
    if (!file)
        return;
    fprintf(file, "start_us\tend_us\n");
    for (size_t i = 0; i < count; i++)
        fprintf(file, "%lld\t%lld\n", requests[i][0], requests[i][1]);
    fclose(file);
}
