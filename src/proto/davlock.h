/* davlock: the WebDAV write locks of a server (RFC 4918 §6, §7), as a
 * table and the decisions on it. Pure: no I/O and no clock (the time comes
 * in as "now", seconds); the table allocates its entries.
 *
 * A lock has a token (davlock_token_format: urn:uuid: of 128 random bits
 * the caller draws), the user who took it ("" for anonymous), the owner
 * XML the client sent, its scope (exclusive or shared), its depth (0 or
 * infinity), its root (a normalised path, "." for the root), and when it
 * expires. A lock covers its root, and with depth infinity everything
 * beneath. A token counts only for the user who took the lock: it is
 * never a capability for another. */
#ifndef FERRY_PROTO_DAVLOCK_H
#define FERRY_PROTO_DAVLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/http.h"

#define DAVLOCK_TOKEN_LEN 45   /* "urn:uuid:" and 36 */
#define DAVLOCK_USER_MAX 32    /* bytes of a user name (AUTH_USER_MAX) */
#define DAVLOCK_OWNER_MAX 1024 /* bytes of owner XML kept */

struct davlock {
    char token[DAVLOCK_TOKEN_LEN + 1];
    char user[DAVLOCK_USER_MAX + 1];
    bool exclusive;
    bool infinite;    /* depth infinity */
    int64_t expires;  /* seconds, the caller's clock */
    uint32_t timeout; /* the seconds it was granted for, for lockdiscovery */
    char *path;       /* owned */
    char *owner;      /* owned; "" when none */
};

struct davlock_table {
    struct davlock *locks; /* owned, n of cap */
    size_t n, cap;
    size_t max_total, max_per_user;
};

/* An empty table with its bounds. */
void davlock_init(struct davlock_table *t, size_t max_total, size_t max_per_user);
void davlock_free(struct davlock_table *t);

/* "urn:uuid:xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx" of the 16 random bytes. */
void davlock_token_format(const unsigned char raw[16], char out[DAVLOCK_TOKEN_LEN + 1]);

/* The timeout a Timeout header value asks for (p NULL: absent), in
 * seconds, capped to max: the first of its comma-separated choices that is
 * "Infinite" (max) or "Second-N"; absent or none understood gives dflt
 * (capped too). Never 0. */
uint32_t davlock_timeout(struct http_str v, uint32_t dflt, uint32_t max);

/* Drops the locks expired at now. Returns how many went. */
size_t davlock_expire(struct davlock_table *t, int64_t now);

/* True when lock l covers path (a normalised path). */
bool davlock_covers(const struct davlock *l, const char *path);

/* Whether a new lock on path with this scope and depth may be granted:
 * 0, or -EBUSY when it conflicts with a lock there (an exclusive one, or
 * any when the new one is exclusive): on path itself, on an ancestor with
 * depth infinity, or (when infinite) beneath path. */
int davlock_may_grant(const struct davlock_table *t, const char *path, bool exclusive,
                      bool infinite);

/* Adds a copy of *l (path and owner copied) with davlock_may_grant's
 * check. 0, -EBUSY (conflict), -EUSERS (the user's or the table's bound),
 * -EEXIST (the token is there), -ENAMETOOLONG (owner too long), -ENOMEM. */
int davlock_add(struct davlock_table *t, const struct davlock *l);

/* The lock with token[0..len), or NULL. */
struct davlock *davlock_find(struct davlock_table *t, const char *token, size_t len);

/* Removes the lock with token; false when there is none. */
bool davlock_remove(struct davlock_table *t, const char *token, size_t len);

/* Removes every lock whose root is path or lies beneath it. */
void davlock_forget(struct davlock_table *t, const char *path);

/* Whether user has submitted the lock: token_cb says whether the request
 * submits a token. */
typedef bool (*davlock_submits_cb)(void *arg, const char *token, size_t len);

/* What a change touches besides path itself (davlock_may_change's how). */
#define DAVLOCK_DEEP 0x1   /* everything beneath path too (depth infinity: DELETE, MOVE) */
#define DAVLOCK_MEMBER 0x2 /* path is made or removed: its parent's membership changes */

/* Whether user may change path (how: DAVLOCK_* flags) given the tokens the
 * request submits: 0, or -EBUSY (423) naming in *blocker (when not NULL)
 * a lock that stands in the way. A lock is held when its token is
 * submitted by the user who took it. The locks that must be held: every
 * one that covers path, with DAVLOCK_DEEP every one beneath it, and with
 * DAVLOCK_MEMBER a depth-0 lock on path's parent (RFC 4918 §7.5: it
 * protects the folder's members list); for shared locks one held lock
 * with the same root is enough. */
int davlock_may_change(const struct davlock_table *t, const char *path, unsigned how,
                       const char *user, davlock_submits_cb submits, void *arg,
                       const struct davlock **blocker);

/* The lock a 423 for a change of path names (RFC 4918 §16
 * lock-token-submitted: a locked resource in the way): the first lock
 * that covers path, else one beneath it, else a depth-0 lock on its
 * parent; NULL when none. */
const struct davlock *davlock_in_way(const struct davlock_table *t, const char *path);

/* The locks on disk: one line per lock, fields separated by tabs, the path
 * and owner percent-escaped. davlock_format appends l's line to out
 * (outsz bytes, NUL-terminated); returns the line's length or 0 when it
 * does not fit. */
size_t davlock_format(const struct davlock *l, char *out, size_t outsz);
/* Parses one line (without its newline) into *l, whose path and owner are
 * allocated (davlock_release frees them). 0, -EINVAL, -ENOMEM. */
int davlock_parse(const char *line, size_t len, struct davlock *l);
void davlock_release(struct davlock *l);

#endif
