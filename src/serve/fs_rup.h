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
 * --upload-max-age is removed (checked when it is used, and swept at start
 * and with each new upload).
 *
 * At most one request writes to an upload at a time: each request that
 * touches one (HEAD, PATCH, DELETE) supersedes the one in flight, whose
 * next write is refused and whose connection closes (the draft's advice:
 * a client that asks again has given up on the earlier request). The
 * generation check and the write happen under the upload's own lock, so
 * an offset that HEAD reports is the one the next PATCH must give.
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
struct fs_rup;
struct fs_rup_slot;
struct upload;

#define FS_RUP_DIR ".ferry-uploads"
#define FS_RUP_PARTIAL ".ferry-up-" /* and the token */

/* Opens (making it if missing) the state directory beneath rootfd and
 * sweeps expired uploads. 0 or -errno. */
int fs_rup_open(int rootfd, int64_t max_age_s, uint64_t max_size, struct fs_rup **out);
void fs_rup_close(struct fs_rup *r);

/* The data's name in the target's directory: FS_RUP_PARTIAL TOKEN. */
void fs_rup_partial(const char *token, char out[64]);

/* A new upload for st->rel: a fresh token into token and the state on
 * disk. 0 or -errno. */
int fs_rup_create(struct fs_rup *r, const struct rup_state *st, char token[RUP_TOKEN_LEN + 1]);
/* The state of token's upload for rel: 0, or -ENOENT when there is none
 * for that target, or it expired (then it is removed). */
int fs_rup_load(struct fs_rup *r, const char *token, const char *rel, struct rup_state *st);
int fs_rup_save(struct fs_rup *r, const char *token, const struct rup_state *st);
/* Removes the state, and the data when it is still beside the target. */
void fs_rup_forget(struct fs_rup *r, const char *token, const char *rel);

/* Takes the upload for a request that writes to it, superseding any other
 * request in flight: the slot (NULL when 64 uploads are being written at
 * once) and the request's generation. */
struct fs_rup_slot *fs_rup_hold(struct fs_rup *r, const char *token, uint64_t *gen);
void fs_rup_drop(struct fs_rup *r, struct fs_rup_slot *s);
/* Appends under the slot's lock: -ECANCELED when a later request
 * superseded gen, else as upload_write. */
int fs_rup_write(struct fs_rup_slot *s, uint64_t gen, struct upload *u, const void *p, size_t n);

/* Header lines: "Upload-Limit: max-size=N, max-age=S\r\n" (the age left
 * for st, or the whole for a new upload when st is NULL). */
void fs_rup_limit(const struct fs_rup *r, const struct rup_state *st, char *out, size_t outsz);

/* HEAD, DELETE and OPTIONS of the upload resource for rel. */
void fs_rup_head(struct conn *c, const char *rel, const char *token);
void fs_rup_delete(struct conn *c, const char *rel, const char *token);
void fs_rup_options(struct conn *c, const char *rel);

#endif
