/* upload: the file side of PUT in `ferry serve`.
 *
 * The body goes to an unnamed temporary file (O_TMPFILE) in the target's
 * directory; when it is complete it is synced, given a temporary name and
 * renamed over the target in one step, so a reader sees the old file or
 * the new one, never a part. An aborted upload leaves nothing behind, even
 * after a crash. Where O_TMPFILE is missing a named ".ferry-upload-*" file
 * is used and removed on abort. */
#ifndef FERRY_SERVE_UPLOAD_H
#define FERRY_SERVE_UPLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct upload;

/* Starts an upload to rel (a normalised path, not ".") beneath rootfd.
 * Returns 0 with *out set, or -errno: -ENOENT or -ENOTDIR when the parent
 * directory is missing, -EISDIR when rel is a directory, -EXDEV or -ELOOP
 * when the parent lies outside the root, -ENAMETOOLONG when the name is too
 * long for the file system. A target that is a symbolic link is replaced by
 * the upload, never written through. */
int upload_begin(int rootfd, const char *rel, struct upload **out);

/* upload_begin in the directory open at dirfd (taken over, whatever
 * happens) for the target name in it: for a caller that has asked the
 * rights gate about that very directory (fs_auth_open_parent). */
int upload_begin_at(int dirfd, const char *name, struct upload **out);

/* A resumable upload's data: partial, a name in rel's directory, created
 * (never over an existing name) when create, else the existing file, which
 * must be a regular file of its own (not a link). Writes append at its end;
 * upload_size starts at its size. upload_commit renames it over the target
 * as for upload_begin; upload_abort removes it; upload_release keeps it for
 * a later append. Returns as upload_begin, and -ENOENT for a missing
 * partial, -ELOOP for one that is not a file of its own. */
int upload_open_partial(int rootfd, const char *rel, const char *partial, bool create,
                        struct upload **out);

/* upload_open_partial in the directory open at dirfd (taken over,
 * whatever happens), whose target is name in it. */
int upload_open_partial_at(int dirfd, const char *name, const char *partial, bool create,
                           struct upload **out);

/* Cuts the file back to size bytes (a resumable upload's request whose
 * content did not match its Content-Digest). 0 or -errno. */
int upload_truncate(struct upload *u, uint64_t size);

/* Stops writing and keeps what was written. Frees u. */
void upload_release(struct upload *u);

/* Appends body bytes. 0 or -errno (-ENOSPC for a full disk). */
int upload_write(struct upload *u, const void *p, size_t n);

/* The file being written (for its attributes; it keeps its inode and
 * modification time through the commit). */
int upload_fd(const struct upload *u);

/* The folder the upload goes to (open, the upload's) and the target's
 * name in it. */
int upload_dirfd(const struct upload *u);
const char *upload_name(const struct upload *u);

/* Bytes written so far. */
uint64_t upload_size(const struct upload *u);

/* upload_commit will not wait for the disk (no fsync): for a copy whose
 * source still exists (WebDAV COPY), where a crash loses nothing that is
 * not still elsewhere and a tree of files would otherwise wait for one
 * flush each. The rename is as atomic as ever. */
void upload_no_sync(struct upload *u);

/* Puts the file in place. *created says it did not exist before. Frees u.
 * Returns 0 or -errno (the upload is then abandoned). */
int upload_commit(struct upload *u, bool *created);

/* Abandons the upload, leaving nothing behind. Frees u. */
void upload_abort(struct upload *u);

#endif
