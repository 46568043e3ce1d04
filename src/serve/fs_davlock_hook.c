/* A stand-in for the lock hook on branch dav-copy only: no locks exist
 * yet, so nothing is ever locked. Branch dav-lock defines
 * fs_davlock_check in fs_davlock.c, and this file is deleted when both
 * are merged. */
#include "serve/fs.h"

int fs_davlock_check(struct conn *c, const struct http_request *req, const char *rel,
                     bool depth_infinity)
{
    (void)c;
    (void)req;
    (void)rel;
    (void)depth_infinity;
    return 0;
}
