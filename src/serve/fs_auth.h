/* fs_auth: accounts and rights for the file server (--auth FILE).
 *
 * The file is read once, at start-up (proto/auth parses its lines), and
 * never again: nothing changes at run time, so a verified credential never
 * goes stale and the cache needs no invalidation.
 *
 * A request that brings a password the cache does not know waits in
 * CS_AUTH while a small pool of threads runs crypt(3); the verdict comes
 * back to the connection's own worker through an eventfd watched by its
 * loop. The queue is bounded (full: 503), failures are counted per client
 * address (too many: 429, before any crypt runs), and verified credentials
 * are cached under a keyed hash of user and password, never the password. */
#ifndef FERRY_SERVE_FS_AUTH_H
#define FERRY_SERVE_FS_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "proto/auth.h"
#include "proto/http.h"

struct fs_auth;
struct fs_server;
struct conn;
struct worker;

/* What the check said, in struct xchg's auth. */
enum { FS_AUTH_UNCHECKED = 0, FS_AUTH_GOOD, FS_AUTH_BAD };

#define FS_AUTH_THREADS 2    /* crypt threads */
#define FS_AUTH_QUEUE 32     /* checks waiting or running, all workers together */
#define FS_AUTH_CACHE 256    /* verified credentials remembered */
#define FS_AUTH_CLIENTS 1024 /* client addresses whose failures are counted */
#define FS_AUTH_FAILS 5      /* failures within FS_AUTH_WINDOW_MS before 429 */
#define FS_AUTH_WINDOW_MS 60000
#define FS_AUTH_BLOCK_MS 60000 /* how long a client then gets 429 */

/* Reads and checks the file at path. Returns 0 with *out (free it with
 * fs_auth_free), or -errno with msg (msgsz bytes) saying what is wrong,
 * with the line number: -EINVAL for a bad line or hash, others for I/O. */
int fs_auth_load(const char *path, struct fs_auth **out, char *msg, size_t msgsz);

/* Frees a, after fs_auth_stop. NULL is fine. */
void fs_auth_free(struct fs_auth *a);

/* Starts the crypt threads. Returns 0 or -errno. */
int fs_auth_start(struct fs_auth *a);

/* Stops and joins the crypt threads; checks still queued are dropped.
 * Safe to call when not started. */
void fs_auth_stop(struct fs_auth *a);

/* Opens w's eventfd for verdicts and watches it on w's loop (on w's
 * thread). Returns 0 or -errno; w->auth_port stays NULL on failure. */
int fs_auth_port_open(struct fs_auth *a, struct worker *w);

/* Closes w's port, after the worker and the crypt threads have stopped. */
void fs_auth_port_close(struct worker *w);

enum fs_auth_gate {
    FS_GATE_PASS,     /* go on: c->x->user says who (empty: anonymous) */
    FS_GATE_ANSWERED, /* 400, 401, 403, 429 or 503 was answered */
    FS_GATE_WAIT,     /* c is in CS_AUTH until the check comes back */
};

/* Decides whether the request req on c may have need on rel (a path from
 * proto/path: "." or "a/b"), as spelled: the first check, the one that
 * asks for a password; the handlers then ask the rights gate below about
 * what they really act on. Without --auth everything passes. */
enum fs_auth_gate fs_auth_gate(struct conn *c, const struct http_request *req, const char *rel,
                               enum auth_right need);

/* Forgets c's check under way (c is closing); the check still counts. */
void fs_auth_cancel(struct conn *c);

/* The rights gate. Rights are decided once, on the object the kernel acts
 * on: every read, write, listing entry, tar member, index page and upload
 * asks fs_auth_may_fd (an opened descriptor) or fs_auth_may_at (a real
 * parent directory and the final name, for a create, delete or rename)
 * with the path the request spelled; those find where the object really
 * is beneath the root (fsx_real_rel) and ask fs_auth_may, whose policy is
 * proto/auth's auth_allows: need on the spelling and on the real path.
 * Writing also needs --upload. Without --auth: read yes, write when
 * --upload, and no readlink. user NULL or "" is anonymous (the rights of
 * "*"; the raw protocol has no credentials); a user gets the better of its
 * own rights and those of "*". Paths are "." or "a/b". */

/* The decision without I/O: need on spelled, and on real unless NULL (the
 * spelling alone, asked before anything is opened: fs_auth_gate, Allow
 * and the early 405, tar's skip of what the spelling already refuses). */
bool fs_auth_may(const struct fs_server *s, const char *user, const char *spelled, const char *real,
                 enum auth_right need);

/* Whether user may have need on the file or directory open at fd, which
 * the request spelled spelled. False when fd is not beneath the root. */
bool fs_auth_may_fd(const struct fs_server *s, const char *user, const char *spelled, int fd,
                    enum auth_right need);

/* Whether user may have need on name in the directory open at dirfd (to
 * create, replace or remove it), which the request spelled spelled. The
 * real path is dirfd's plus name: name itself is never followed. */
bool fs_auth_may_at(const struct fs_server *s, const char *user, const char *spelled, int dirfd,
                    const char *name, enum auth_right need);

/* Opens the directory that holds rel beneath the root (fsx_open_parent)
 * and asks fs_auth_may_at for need on it. Returns its descriptor (the
 * caller owns it) with *name at rel's last segment, -EACCES when the
 * rights refuse, or -errno as fsx_open_parent. */
int fs_auth_open_parent(const struct fs_server *s, const char *user, const char *rel,
                        enum auth_right need, const char **name);

#endif
