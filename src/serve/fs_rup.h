/* fs_rup: resumable uploads in `ferry serve --upload`
 * (draft-ietf-httpbis-resumable-upload-11, interop version 8).
 *
 * An upload resource is /DIR/NAME?upload=TOKEN: the path is the target,
 * so the account rights that guard writing NAME guard its upload too, and
 * TOKEN is 128 random bits. Its data is DIR/.ferry-up-TOKEN, beside the
 * target (so the last step is a rename), and its state (proto/rup) is
 * ROOT/.ferry-uploads/TOKEN, replaced whole by a rename on each change.
 * Both are on disk, so an upload survives a restart of the server; names
 * starting with ".ferry-up" are never served, listed or written by a
 * request (proto/path's PATH_RESERVED). An upload not finished within
 * --upload-max-age is removed by a sweep the workers' tick runs (every
 * rup_sweep_every seconds, a bounded batch per tick), and when it is used.
 *
 * Each party (the user under --auth, else the client's address: IPv4, or
 * the /64 of IPv6) has at most --upload-max-unfinished unfinished uploads
 * (429 past it) holding at most --upload-max-unfinished-bytes of data
 * (507: refused up front when Content-Length says so, else when the bytes
 * come). The state records the owner, so the counts survive a restart.
 *
 * At most one request changes an upload at a time: each request that
 * touches one (HEAD, PATCH, DELETE) takes its slot, which supersedes the
 * request in flight, whose next write (or completion) is refused and whose
 * connection closes (the draft's advice: a client that asks again has
 * given up on the earlier request). Slots are made per upload as needed,
 * so no party can take them all from another. Every change (a write, the
 * completion, a removal) and every look (HEAD) happens under the slot's
 * lock after the generation check, so an offset HEAD reports is the one
 * the next PATCH must give, and a completion is seen whole or not at all.
 *
 * Completion is one durable step: the data synced, then the state written
 * complete (synced), then the data renamed over the target. A restart
 * after the state and before the rename finishes the rename; before the
 * state, the upload is unfinished with all its data (rup_found). A state
 * without data is never removed before it expires, since nothing proves
 * it abandoned.
 *
 * fs_put.c carries the bodies (creation by PUT or POST with
 * Upload-Complete, PATCH appends); this file keeps the store and answers
 * HEAD, DELETE and OPTIONS of an upload resource. */
#ifndef FERRY_SERVE_FS_RUP_H
#define FERRY_SERVE_FS_RUP_H

#include <stdbool.h>
#include <stdint.h>

#include "proto/rup.h"

struct conn;
struct fs_options;
struct fs_rup;
struct fs_rup_slot;
struct upload;

#define FS_RUP_DIR ".ferry-uploads"
#define FS_RUP_PARTIAL ".ferry-up-" /* and the token */

/* Opens the state directory beneath rootfd if there is one: removes what
 * has expired, finishes completions a stop cut short, and counts the
 * unfinished uploads against their owners. The limits are o's. 0 or
 * -errno. */
int fs_rup_open(int rootfd, const struct fs_options *o, struct fs_rup **out);
void fs_rup_close(struct fs_rup *r);
/* The workers' tick (any thread, NULL r too): when due, a bounded batch of
 * the sweep that removes expired uploads. */
void fs_rup_tick(struct fs_rup *r);

/* The data's name in the target's directory: FS_RUP_PARTIAL TOKEN. */
void fs_rup_partial(const char *token, char out[64]);

/* A new upload for st->rel, counted against st->owner, whose creation
 * request brings need bytes (0 unknown): a fresh token into token and the
 * state on disk. 0, -EUSERS when the owner has all the unfinished uploads
 * it may (429), -EDQUOT when need passes its bytes (507), or -errno. */
int fs_rup_create(struct fs_rup *r, const struct rup_state *st, int64_t need,
                  char token[RUP_TOKEN_LEN + 1]);
/* The state of token's upload for rel: 0, or -ENOENT when there is none
 * for that target, or it expired (then it is removed). */
int fs_rup_load(struct fs_rup *r, const char *token, const char *rel, struct rup_state *st);
/* Writes st as token's state (synced, then renamed into place). 0 or -errno. */
int fs_rup_save(struct fs_rup *r, const char *token, const struct rup_state *st);
/* 0 when owner's unfinished uploads may take need more bytes, else -EDQUOT. */
int fs_rup_room(struct fs_rup *r, const char *owner, int64_t need);

/* Takes the upload for a request that touches it, superseding any other
 * request in flight: the slot (NULL only when memory is short or 65536
 * uploads are being touched at once) and the request's generation. owner
 * is the upload's (its state's). fs_rup_drop gives it back. */
struct fs_rup_slot *fs_rup_hold(struct fs_rup *r, const char *token, const char *owner,
                                uint64_t *gen);
void fs_rup_drop(struct fs_rup *r, struct fs_rup_slot *s);
/* Takes the slot's lock (waiting out a change under way): true when gen
 * is still the latest request's, or gen is 0 (a look, not a change).
 * fs_rup_unlock always follows. */
bool fs_rup_lock(struct fs_rup_slot *s, uint64_t gen);
void fs_rup_unlock(struct fs_rup_slot *s);
/* Under the lock: the upload as it is now (rup_found), a completion cut
 * short finished first; RUP_LOST also when there is no such upload. The
 * offset is the data's size, or the length once complete. */
enum rup_found fs_rup_find(struct fs_rup *r, const char *token, const char *rel,
                           struct rup_state *st, int64_t *offset);
/* Appends under the slot's lock: -ECANCELED when a later request
 * superseded gen, -EDQUOT when the owner's bytes would pass their bound,
 * else as upload_write. */
int fs_rup_write(struct fs_rup *r, struct fs_rup_slot *s, uint64_t gen, struct upload *u,
                 const void *p, size_t n);
/* Cuts the data back to size under the lock (-ECANCELED as above). */
int fs_rup_truncate(struct fs_rup *r, struct fs_rup_slot *s, uint64_t gen, struct upload *u,
                    uint64_t size);
/* Completes the upload: the data synced, st written complete (synced),
 * the data renamed over the target (*created: it did not exist). The
 * caller holds the lock with its generation current. Takes u over. 0; or
 * -errno with the upload still unfinished (st->complete false), or, when
 * the rename failed, removed. */
int fs_rup_commit(struct fs_rup *r, const char *token, struct rup_state *st, struct upload *u,
                  bool *created);
/* Removes an upload that failed as a whole, under the lock unless s is
 * NULL (nobody else has its token yet); nothing when gen was superseded. */
void fs_rup_discard(struct fs_rup *r, struct fs_rup_slot *s, uint64_t gen, const char *token,
                    const struct rup_state *st);

/* Header lines: "Upload-Limit: max-size=N, max-age=S\r\n" (the age left
 * for st, or the whole for a new upload when st is NULL). */
void fs_rup_limit(const struct fs_rup *r, const struct rup_state *st, char *out, size_t outsz);

/* HEAD, DELETE and OPTIONS of the upload resource for rel. */
void fs_rup_head(struct conn *c, const char *rel, const char *token);
void fs_rup_delete(struct conn *c, const char *rel, const char *token);
void fs_rup_options(struct conn *c, const char *rel);

#endif
