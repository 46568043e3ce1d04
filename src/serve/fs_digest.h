/* fs_digest: the sha-256 of served files, for Repr-Digest (RFC 9530).
 *
 * A request never waits for a digest. One is looked for in a bounded
 * memory cache, then in the file's extended attribute user.ferry.sha256
 * (stamped with size, modification time and inode: proto/digest's stamp),
 * and a small file is hashed at once on the loop. A large file whose
 * digest is not known is sent at once: with the digest in a trailer
 * computed as its bytes are sent (fs_body.c) when the client takes
 * trailers, else without the field; and it is queued for the digest
 * thread, which hashes it in the background at a low priority and a
 * bounded rate, so that the requests to come find it. When nothing is
 * queued the same thread keeps the whole tree's digests up to date: a
 * first pass over it at start (its progress on stderr), then the files
 * inotify says were written, moved or linked in. A result is
 * written to the attribute (where the file system and the file's
 * permissions allow) and to the memory cache, and only when the file is
 * still the version hashed, so a changed file is never described by an
 * old digest. */
#ifndef FERRY_SERVE_FS_DIGEST_H
#define FERRY_SERVE_FS_DIGEST_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "proto/digest.h"

struct fs_digest;

#define FS_DIGEST_XATTR "user.ferry.sha256"
#define FS_DIGEST_INLINE_MAX (1u << 20) /* hashed on the loop: about half a millisecond */

struct fs_digest_config {
    unsigned rate_mib; /* the thread reads at most this many MiB a second; 0: no limit */
    int rootfd;        /* the tree to keep hashed (not taken over); -1: only what is queued */
    bool hidden;       /* the tree's names starting with "." too */
};

/* Starts the digest thread. 0 or -errno. */
int fs_digest_start(const struct fs_digest_config *cfg, struct fs_digest **out);
/* Ends the thread (a file being hashed is left) and frees d (NULL is fine). */
void fs_digest_stop(struct fs_digest *d);

/* The sha-256 of the regular file open at fd, whose fstat is st, when it
 * is known (the cache, the attribute) or small enough to be hashed now:
 * true with out set. Never waits for a large file. */
bool fs_digest_known(struct fs_digest *d, int fd, const struct stat *st,
                     unsigned char out[DIGEST_SHA256_LEN]);

/* Queues the file open at fd (a duplicate is kept), whose fstat is st, for
 * the thread; nothing when the same version is queued already or the
 * queue is full. */
void fs_digest_queue(struct fs_digest *d, int fd, const struct stat *st);

/* sha is the digest of the file open at fd as it was when its fstat was
 * st (its bytes were hashed as they were sent): true, with the attribute
 * and the cache updated, when the file is still that version; false when
 * it changed meanwhile (sha then describes nothing). */
bool fs_digest_store(struct fs_digest *d, int fd, const struct stat *st,
                     const unsigned char sha[DIGEST_SHA256_LEN]);

/* Stores the digest of the file open at fd (a PUT that was just written,
 * its digest computed as it came): the attribute and the memory cache. */
void fs_digest_remember(struct fs_digest *d, int fd, const unsigned char sha[DIGEST_SHA256_LEN]);

#endif
