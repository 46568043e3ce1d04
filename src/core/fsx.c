#include "core/fsx.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

int fsx_open_beneath(int rootfd, const char *rel, int flags)
{
    struct open_how how;

    memset(&how, 0, sizeof how);
    how.flags = (unsigned long long)(flags | O_CLOEXEC);
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    for (;;) {
        long fd = syscall(SYS_openat2, rootfd, rel, &how, sizeof how);
        if (fd >= 0)
            return (int)fd;
        if (errno != EINTR)
            return -errno;
    }
}


/* The path of fd from /proc/self/fd into out; its length, or -errno. */
static ssize_t fd_path(int fd, char *out, size_t outsz)
{
    char link[64];

    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, out, outsz);
    if (n < 0)
        return -errno;
    if ((size_t)n >= outsz)
        return -ENAMETOOLONG;
    out[n] = '\0';
    return n;
}

int fsx_real_rel(int rootfd, int fd, char *out, size_t outsz)
{
    char root[4096];
    ssize_t rn = fd_path(rootfd, root, sizeof root);
    if (rn < 0)
        return (int)rn;
    ssize_t n = fd_path(fd, out, outsz);
    if (n < 0)
        return (int)n;
    if (strcmp(root, "/") == 0)
        rn = 0; /* the root is "/": every path is beneath it */
    if (strncmp(out, root, (size_t)rn) != 0 || (out[rn] != '/' && out[rn] != '\0'))
        return -EXDEV; /* also " (deleted)" names, which a moved root gives */
    if (out[rn] == '\0') {
        snprintf(out, outsz, ".");
        return 0;
    }
    memmove(out, out + rn + 1, (size_t)(n - rn)); /* with its NUL */
    return 0;
}
int fsx_open_parent(int rootfd, const char *rel, const char **name)
{
    const char *slash = strrchr(rel, '/');
    char parent[4096];

    *name = slash ? slash + 1 : rel;
    if (strcmp(rel, ".") == 0 || (*name)[0] == '\0')
        return -EISDIR;
    if (slash == NULL)
        return fsx_open_beneath(rootfd, ".", O_RDONLY | O_DIRECTORY);
    size_t pl = (size_t)(slash - rel);
    if (pl >= sizeof parent)
        return -ENAMETOOLONG;
    memcpy(parent, rel, pl);
    parent[pl] = '\0';
    return fsx_open_beneath(rootfd, parent, O_RDONLY | O_DIRECTORY);
}

int fsx_read_file(const char *path, size_t max, char **out, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat st;
    int rc = 0;
    char *data = NULL;

    if (fstat(fd, &st) < 0) {
        rc = -errno;
        goto fail_close;
    }
    if (st.st_size < 0 || (size_t)st.st_size > max) {
        rc = -EFBIG;
        goto fail_close;
    }
    size_t size = (size_t)st.st_size, got = 0;
    data = malloc(size + 1);
    if (data == NULL) {
        rc = -ENOMEM;
        goto fail_close;
    }
    while (got < size) {
        ssize_t n = read(fd, data + got, size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = -errno;
            goto fail_free;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    data[got] = '\0';
    close(fd);
    *out = data;
    *len = got;
    return 0;

fail_free:
    free(data);
fail_close:
    close(fd);
    return rc;
}

int fsx_write_all(int fd, const void *p, size_t n)
{
    const char *c = p;

    while (n > 0) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -errno;
        if (w == 0)
            return -EIO;
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

#define FSX_XATTR_BYTES 65536u /* XATTR_LIST_MAX and XATTR_SIZE_MAX */

int fsx_copy_xattrs(int sfd, int dfd, const char *prefix, const char *skip)
{
    char *list = malloc(FSX_XATTR_BYTES), *val = malloc(FSX_XATTR_BYTES);
    size_t pl = strlen(prefix);
    int rc = 0;

    if (list == NULL || val == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    ssize_t n = flistxattr(sfd, list, FSX_XATTR_BYTES);
    if (n < 0) {
        rc = errno == ENOTSUP ? 0 : -errno;
        goto out;
    }
    for (ssize_t i = 0; i < n; i += (ssize_t)strlen(list + i) + 1) {
        const char *name = list + i;
        if (strncmp(name, prefix, pl) != 0 || (skip != NULL && strcmp(name, skip) == 0))
            continue;
        ssize_t v = fgetxattr(sfd, name, val, FSX_XATTR_BYTES);
        if (v < 0 && errno == ENODATA)
            continue; /* removed meanwhile */
        if (v < 0 || fsetxattr(dfd, name, val, (size_t)v, 0) < 0) {
            rc = -errno;
            goto out;
        }
    }
out:
    free(list);
    free(val);
    return rc;
}
