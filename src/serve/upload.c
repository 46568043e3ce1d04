#include "serve/upload.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/fsx.h"

struct upload {
    int dirfd;
    int fd;
    bool named;        /* a named temporary file (no O_TMPFILE) */
    bool no_sync;      /* upload_no_sync: commit without fsync */
    bool behind;       /* write-behind: writeback started as it is written */
    uint64_t size;
    uint64_t started;  /* writeback started up to here (behind) */
    char tmpname[64];
    char name[];       /* the target's name in dirfd */
};

/* A name unlikely to exist; O_EXCL or linkat refuse it if it does. */
static void temp_name(char *out, size_t outsz, int fd)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(out, outsz, ".ferry-upload-%d-%d-%lx", (int)getpid(), fd,
             (unsigned long)ts.tv_nsec ^ (unsigned long)ts.tv_sec);
}

/* The upload's directory (dirfd, taken over) and target name, checked: no
 * file yet. */
static int prepare(int dirfd, const char *name, struct upload **out)
{
    struct stat st;
    int rc;

    struct upload *u = calloc(1, sizeof *u + strlen(name) + 1);
    if (u == NULL) {
        close(dirfd);
        return -ENOMEM;
    }
    strcpy(u->name, name);
    u->fd = -1;
    u->dirfd = dirfd;
    /* A name the directory cannot hold (ENAMETOOLONG, say) is refused now,
     * not after the whole body has gone to disk and rename has failed. */
    if (fstatat(u->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
        if (errno != ENOENT) {
            rc = -errno;
            goto fail;
        }
    } else if (S_ISDIR(st.st_mode)) {
        rc = -EISDIR;
        goto fail;
    }
    *out = u;
    return 0;

fail:
    close(u->dirfd);
    free(u);
    return rc;
}

int upload_open_partial(int rootfd, const char *rel, const char *partial, bool create,
                        struct upload **out)
{
    const char *name;
    int dirfd = fsx_open_parent(rootfd, rel, &name);

    if (dirfd < 0)
        return dirfd;
    return upload_open_partial_at(dirfd, name, partial, create, out);
}

int upload_open_partial_at(int dirfd, const char *name, const char *partial, bool create,
                           struct upload **out)
{
    struct upload *u;
    struct stat st;
    int rc = prepare(dirfd, name, &u);

    if (rc < 0)
        return rc;
    if (strlen(partial) >= sizeof u->tmpname) {
        rc = -ENAMETOOLONG;
        goto fail;
    }
    strcpy(u->tmpname, partial);
    int flags = O_RDWR | O_NOFOLLOW | O_CLOEXEC | (create ? O_CREAT | O_EXCL : 0);
    u->fd = openat(u->dirfd, partial, flags, 0644);
    if (u->fd < 0) {
        rc = -errno;
        goto fail;
    }
    /* Only a file of its own: a planted hard link, a device or a FIFO is
     * not written to. */
    if (fstat(u->fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1 ||
        lseek(u->fd, 0, SEEK_END) < 0) {
        rc = -ELOOP;
        goto fail;
    }
    u->size = (uint64_t)st.st_size;
    u->named = true;
    u->behind = true;
    u->started = u->size;
    *out = u;
    return 0;

fail:
    if (u->fd >= 0)
        close(u->fd);
    close(u->dirfd);
    free(u);
    return rc;
}

int upload_truncate(struct upload *u, uint64_t size)
{
    if (ftruncate(u->fd, (off_t)size) < 0 || lseek(u->fd, 0, SEEK_END) < 0)
        return -errno;
    u->size = size;
    if (u->started > size)
        u->started = size; /* the writeback goes on from here */
    return 0;
}

void upload_release(struct upload *u)
{
    close(u->fd);
    close(u->dirfd);
    free(u);
}

int upload_begin(int rootfd, const char *rel, struct upload **out)
{
    const char *name;
    int dirfd = fsx_open_parent(rootfd, rel, &name);

    if (dirfd < 0)
        return dirfd;
    return upload_begin_at(dirfd, name, out);
}

int upload_begin_at(int dirfd, const char *name, struct upload **out)
{
    struct upload *u;
    int rc = prepare(dirfd, name, &u);

    if (rc < 0)
        return rc;
    /* Readable too: its digest is read back behind the writes. */
    u->fd = openat(u->dirfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0644);
    if (u->fd < 0) {
        for (int i = 0; i < 16 && u->fd < 0; i++) {
            temp_name(u->tmpname, sizeof u->tmpname, i);
            u->fd = openat(u->dirfd, u->tmpname, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
            if (u->fd < 0 && errno != EEXIST)
                break;
        }
        if (u->fd < 0) {
            rc = -errno;
            goto fail;
        }
        u->named = true;
    }
    *out = u;
    return 0;

fail:
    close(u->dirfd);
    free(u);
    return rc;
}

/* Bytes of a resumable upload written before their writeback is started. */
#define WRITE_BEHIND_STEP ((uint64_t)4 << 20)

/* A resumable upload's part is synced before its offset is acknowledged
 * (fs_put's finish_resumable): the writeback of what came so far is
 * started every WRITE_BEHIND_STEP bytes, without waiting for it, so that
 * the disk writes while the rest of the part arrives and that fsync waits
 * for the last few MiB only, not for the whole part. A failure here shows
 * at that fsync. */
static void write_behind(struct upload *u)
{
    if (!u->behind || u->size - u->started < WRITE_BEHIND_STEP)
        return;
    (void)sync_file_range(u->fd, (off_t)u->started, (off_t)(u->size - u->started),
                          SYNC_FILE_RANGE_WRITE);
    u->started = u->size;
}

int upload_write(struct upload *u, const void *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(u->fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -errno;
        p = (const char *)p + w;
        n -= (size_t)w;
        u->size += (uint64_t)w;
    }
    write_behind(u);
    return 0;
}

int upload_fd(const struct upload *u)
{
    return u->fd;
}

int upload_dirfd(const struct upload *u)
{
    return u->dirfd;
}

const char *upload_name(const struct upload *u)
{
    return u->name;
}

uint64_t upload_size(const struct upload *u)
{
    return u->size;
}

void upload_abort(struct upload *u)
{
    if (u->fd >= 0)
        close(u->fd);
    if (u->named)
        unlinkat(u->dirfd, u->tmpname, 0);
    close(u->dirfd);
    free(u);
}

/* Renames tmp over name in dirfd; *created says no file had the name. The
 * rename itself answers that (RENAME_NOREPLACE first): a look before it
 * could be overtaken by another upload's commit, and both would say 201. */
static int rename_into_place(int dirfd, const char *tmp, const char *name, bool *created)
{
    if (renameat2(dirfd, tmp, dirfd, name, RENAME_NOREPLACE) == 0) {
        *created = true;
        return 0;
    }
    if (errno == EEXIST) {
        *created = false;
    } else if (errno == EINVAL || errno == ENOSYS) { /* no RENAME_NOREPLACE here */
        struct stat st;
        *created = fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0;
    } else {
        return -errno;
    }
    if (renameat(dirfd, tmp, dirfd, name) < 0)
        return -errno;
    return 0;
}

void upload_no_sync(struct upload *u)
{
    u->no_sync = true;
}

int upload_commit(struct upload *u, bool *created)
{
    int rc = 0;

    if (!u->no_sync && fsync(u->fd) < 0) {
        rc = -errno;
        goto fail;
    }
    if (!u->named) {
        /* Give the unnamed file a temporary name through /proc, which needs
         * no privilege (AT_EMPTY_PATH would). */
        char proc[64];
        snprintf(proc, sizeof proc, "/proc/self/fd/%d", u->fd);
        for (int i = 0;; i++) {
            temp_name(u->tmpname, sizeof u->tmpname, i);
            if (linkat(AT_FDCWD, proc, u->dirfd, u->tmpname, AT_SYMLINK_FOLLOW) == 0)
                break;
            if (errno != EEXIST || i == 15) {
                rc = -errno;
                goto fail;
            }
        }
        u->named = true;
    }
    rc = rename_into_place(u->dirfd, u->tmpname, u->name, created);
    if (rc < 0)
        goto fail;
    u->named = false;
    if (!u->no_sync)
        fsync(u->dirfd); /* the new name survives a crash too */
    close(u->fd);
    close(u->dirfd);
    free(u);
    return 0;

fail:
    upload_abort(u);
    return rc;
}
