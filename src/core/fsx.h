/* fsx: file system helpers that keep every lookup beneath a root. */
#ifndef FERRY_CORE_FSX_H
#define FERRY_CORE_FSX_H

#include <stddef.h>

/* Opens rel (a relative path without ".." segments) beneath the directory
 * rootfd. The kernel resolves it (openat2 with RESOLVE_BENEATH), so neither
 * ".." nor a symbolic link can lead outside rootfd, and a link whose target
 * lies outside is refused rather than followed. flags are open(2) flags;
 * O_CLOEXEC is added. Returns the new descriptor, which the caller owns, or
 * -errno (-EXDEV for an attempt to leave the root, -ENOSYS without openat2). */
int fsx_open_beneath(int rootfd, const char *rel, int flags);

/* Where the file open at fd really is beneath the directory rootfd, after
 * every symbolic link: its path relative to rootfd ("." for rootfd
 * itself, "a/b" beneath it) into out (outsz bytes), read from
 * /proc/self/fd. Returns 0, -EXDEV when fd is not beneath rootfd (or was
 * moved out, or deleted), -ENAMETOOLONG, or -errno. */
int fsx_real_rel(int rootfd, int fd, char *out, size_t outsz);

/* Opens the directory that holds rel (a normalised path, not ".") beneath
 * rootfd, as fsx_open_beneath does, and points *name at rel's last segment.
 * Returns the directory's descriptor, which the caller owns, or -errno
 * (-EISDIR for ".", -ENOENT or -ENOTDIR for a missing parent, -EXDEV or
 * -ELOOP for one outside the root). */
int fsx_open_parent(int rootfd, const char *rel, const char **name);

/* Writes all n bytes to fd, retrying short writes and EINTR. Returns 0 or
 * -errno. */
int fsx_write_all(int fd, const void *p, size_t n);

/* Reads a whole small file (at most max bytes) into a new NUL-terminated
 * malloc'd string in *out, its length in *len. Returns 0 or -errno
 * (-EFBIG past max). The caller frees *out. */
int fsx_read_file(const char *path, size_t max, char **out, size_t *len);

/* Copies the extended attributes of sfd whose names start with prefix,
 * except the one named skip (NULL: none), to dfd. A file system without
 * them (ENOTSUP) is no error; one removed meanwhile is left out. Returns 0
 * or -errno. */
int fsx_copy_xattrs(int sfd, int dfd, const char *prefix, const char *skip);

#endif
