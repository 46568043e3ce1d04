/* fs_digest: the sha-256 of served files, for Repr-Digest (RFC 9530).
 *
 * A digest is looked for, in this order: in the exchange (it came back
 * from the digest thread for this very request), in a bounded memory
 * cache, in the file's extended attribute user.ferry.sha256 (stamped with
 * size, modification time and inode: proto/digest's stamp), then computed
 * on the loop for a small file, or by the digest thread while the request
 * waits in CS_DIGEST, off the socket, under the head deadline. A result is
 * written to the attribute (where the file system and the file's
 * permissions allow) and to the memory cache, so each version of a file
 * is hashed once. A request whose wait runs out, or that finds the queue
 * full, is answered without the field: it is optional, and a download is
 * never held back for it. */
#ifndef FERRY_SERVE_FS_DIGEST_H
#define FERRY_SERVE_FS_DIGEST_H

#include <stdbool.h>
#include <sys/stat.h>

#include "proto/digest.h"

struct conn;
struct worker;
struct fs_digest;

#define FS_DIGEST_XATTR "user.ferry.sha256"

/* What an exchange knows of its file's digest (struct xchg's dg). */
enum fs_dg {
    FS_DG_NONE = 0, /* not looked for yet */
    FS_DG_WAIT,     /* the digest thread is hashing it; c is in CS_DIGEST */
    FS_DG_HAVE,     /* came back: dg_sha, for the version dg_st */
    FS_DG_GAVE_UP,  /* the wait ran out, or hashing failed: answer without */
};

/* Starts the digest thread. 0 or -errno. */
int fs_digest_start(struct fs_digest **out);
/* Joins the thread and frees d (NULL is fine); no worker may wait on it. */
void fs_digest_stop(struct fs_digest *d);

/* Opens w's eventfd for finished digests and watches it on w's loop (on
 * w's thread). 0 or -errno; without a port, w answers without waiting. */
int fs_digest_port_open(struct fs_digest *d, struct worker *w);
void fs_digest_port_close(struct worker *w);

enum fs_digest_get {
    FS_DIGEST_HAVE, /* out is set */
    FS_DIGEST_WAIT, /* c waits in CS_DIGEST and comes back through fs_route */
    FS_DIGEST_NONE, /* answer without the field */
};

/* The sha-256 of the regular file open at fd, whose fstat is st, for the
 * exchange on c. */
enum fs_digest_get fs_digest_get(struct conn *c, int fd, const struct stat *st,
                                 unsigned char out[DIGEST_SHA256_LEN]);

/* Stores the digest of the file open at fd (a PUT that was just written,
 * its digest computed as it came): the attribute and the memory cache. */
void fs_digest_remember(struct fs_digest *d, int fd, const unsigned char sha[DIGEST_SHA256_LEN]);

/* c no longer waits (its deadline passed, or it closes). */
void fs_digest_cancel(struct conn *c);

#endif
