/* An LD_PRELOAD library for tests/e2e/test_put_job.py: a disk that keeps
 * ferry waiting in fsync and fdatasync for as long as the test wants,
 * without timing anything. FERRY_SLOW_FSYNC names a directory. While
 * DIR/on exists, each fsync or fdatasync of a regular file (not of a
 * folder: ferry syncs those too) first appends a line to DIR/held, then
 * waits until DIR/release exists (at most 30 s), then syncs.
 *   cc -shared -fPIC -o slow_fsync.so slow_fsync.c -ldl */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

typedef int sync_fn(int);

int fsync(int fd);
int fdatasync(int fd);

static int exists(const char *dir, const char *name)
{
    char path[4096];

    snprintf(path, sizeof path, "%s/%s", dir, name);
    return access(path, F_OK) == 0;
}

/* Holds the caller while the test says so. */
static void hold(int fd)
{
    const char *dir = getenv("FERRY_SLOW_FSYNC");
    struct stat st;
    char path[4096];

    if (dir == NULL || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || !exists(dir, "on"))
        return;
    snprintf(path, sizeof path, "%s/held", dir);
    int m = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (m >= 0) {
        if (write(m, "held\n", 5) < 0) {
            /* the test then sees no hold and fails */
        }
        close(m);
    }
    struct timespec step = {0, 10 * 1000 * 1000};
    for (int i = 0; i < 3000 && !exists(dir, "release"); i++)
        nanosleep(&step, NULL);
}

int fsync(int fd)
{
    sync_fn *real = (sync_fn *)dlsym(RTLD_NEXT, "fsync");

    hold(fd);
    return real(fd);
}

int fdatasync(int fd)
{
    sync_fn *real = (sync_fn *)dlsym(RTLD_NEXT, "fdatasync");

    hold(fd);
    return real(fd);
}
