/* davdest: the headers of WebDAV COPY and MOVE (RFC 4918 §9.8, §9.9) and
 * the decisions that need no file system. Pure: no I/O, no allocation.
 *
 *   Destination  §10.3: an absolute URI naming this server, or an absolute
 *                path; turned into a path beneath the root by the rules
 *                the request target follows (proto/path)
 *   Overwrite    §10.6: "T" or "F"; absent is T
 *   Depth        §10.2: COPY takes 0 or infinity (absent is infinity), MOVE
 *                of a collection infinity only */
#ifndef FERRY_PROTO_DAVDEST_H
#define FERRY_PROTO_DAVDEST_H

#include <stdbool.h>
#include <stddef.h>

/* What a request says about the server it reached: the Host header
 * (host == NULL when absent) and whether it came over TLS. */
struct davdest_self {
    const char *host;
    size_t host_len;
    bool tls;
};

/* Turns the Destination value v[0..len) into a normalised path beneath the
 * root (as path_from_target: "." or "a/b") in out (outsz bytes, at least
 * 2), with path_from_target's flags in *flags. An absolute URI must have
 * the scheme of the connection (http, or https over TLS) and an authority
 * equal to Host (host without case, the port with its default filled in);
 * user information in it is refused. Returns 0, or the status to answer:
 * 400 (absent, empty, malformed, a bad escape, a NUL, an absolute URI with
 * no Host to compare it with), 403 (a ".." above the root), 414 (too long)
 * or 502 (another scheme, host or port: RFC 4918 §9.8.5, §9.9.4). */
int davdest_parse(const char *v, size_t len, const struct davdest_self *self, char *out,
                  size_t outsz, unsigned *flags);

/* The Overwrite value v[0..len) (v NULL when absent): 1 for T (and
 * absent), 0 for F, -EINVAL for anything else (answered 400). Blanks
 * around the letter are allowed; its case is not (§10.6 says "T" / "F"). */
int davdest_overwrite(const char *v, size_t len);

enum davdest_depth { DAVDEST_DEPTH_0 = 0, DAVDEST_DEPTH_INFINITY = 1 };

/* The Depth value v[0..len) (v NULL when absent) of a COPY (move false) or
 * MOVE (move true) whose source is a collection (coll) or not. Returns
 * DAVDEST_DEPTH_0 or DAVDEST_DEPTH_INFINITY, or -EINVAL (answered 400):
 * "1" or anything else unknown; "0" for a MOVE of a collection (§9.9.2:
 * it moves the whole tree or nothing). Absent is infinity; the depth of a
 * non-collection does not matter but must still be well formed. */
int davdest_depth(const char *v, size_t len, bool move, bool coll);

/* How two normalised paths ("." or "a/b") lie to each other. */
enum davdest_rel {
    DAVDEST_APART,    /* neither holds the other */
    DAVDEST_SAME,     /* the same path */
    DAVDEST_INSIDE,   /* the destination lies inside the source */
    DAVDEST_CONTAINS, /* the source lies inside the destination */
};

enum davdest_rel davdest_relation(const char *src, const char *dst);

/* The status that refuses a COPY or MOVE from src to dst before anything
 * is touched, or 0 to go on. coll: the source is a collection; depth
 * infinity: the copy takes its members. All are 403, because no state of
 * the tree that the client could bring about would make the request work
 * (409 would tell it to fix a conflict and resubmit):
 *   the same path (§9.8.5: source and destination the same resource);
 *   a collection into itself with its members (a copy that would have to
 *     copy itself forever; a rename the kernel refuses);
 *   the destination holds the source and Overwrite is T (replacing the
 *     destination would delete the source first).
 * A COPY of a collection with Depth 0 makes an empty collection, which may
 * lie inside the source. */
int davdest_refuse(const char *src, const char *dst, bool coll, enum davdest_depth depth,
                   bool overwrite);

#endif
