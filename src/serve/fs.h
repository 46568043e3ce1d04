/* fs: the file server's own modules, shared among them and nobody else.
 *
 *   fileserver.c  workers, buffer pools, accepting, deadlines, start and stop
 *   fs_conn.c     the connection state machine and its one drive loop
 *   fs_route.c    a parsed request to its handler: files, listings, redirects
 *   fs_reply.c    response heads, error pages, the body's fate, the access log
 *   fs_body.c     sending a response: buffers, sendfile, read/write, splice
 *   fs_put.c      PUT bodies into serve/upload
 *   fs_dav.c      MKCOL, DELETE, OPTIONS and who may write where
 *   fs_archive.c  a directory as one streaming archive (GET /dir/?tar, ?zip)
 *   fs_tar.c      its tar records (proto/tar)
 *   fs_zip.c      its zip records (proto/zip), the central directory, CRC-32
 *   fs_list.c     a directory's page, made while it is sent (GET /dir/)
 *   fs_raw.c      the raw file protocol
 *   fs_digest.c   file digests for Repr-Digest: cache, attribute, a background thread
 *   fs_follow.c   a file's digest hashed by a thread beside its send, for a trailer
 *   fs_rup.c      resumable uploads: the store, HEAD/DELETE/OPTIONS of an upload
 *   fs_davlock.c  WebDAV LOCK, UNLOCK, the lock table and the If header
 *
 * A connection (struct conn) lives as long as the TCP connection and holds
 * little; an exchange (struct xchg: one request and its response) is taken
 * from the worker's pool when a request arrives and goes back when its
 * response is out, so an idle keep-alive connection holds no buffer. */
#ifndef FERRY_SERVE_FS_H
#define FERRY_SERVE_FS_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#include "serve/fileserver.h"
#include "core/buf.h"
#include "core/ctimeset.h"
#include "net/ev.h"
#include "net/srv.h"
#include "proto/auth.h"
#include "proto/cond.h"
#include "proto/digest.h"
#include "proto/fate.h"
#include "proto/http.h"
#include "proto/httpdate.h"
#include "proto/mime.h"
#include "serve/listing.h"

#define FS_IO_BUF 16384           /* pooled input buffers and each exchange's output */
#define FS_LOG_TARGET 1024        /* request target bytes kept for the access log */
#define FS_DISCARD_MAX (1u << 20) /* request body we read only to drop it */
#define FS_LOG_FIELD 256          /* Referer and User-Agent bytes kept for the log */
#define FS_RW_BUF (256u << 10)    /* the worker's rwbuf */

/* The states of a connection. Every change goes through fs_conn_set_state,
 * which asserts that it is one fs_conn_legal allows. */
enum conn_state {
    CS_PROBE,   /* a new connection: its first bytes tell TLS, HTTP or a raw name */
    CS_TLS,     /* a TLS handshake; then CS_PROBE again, inside TLS */
    CS_HEAD,    /* reading a request head */
    CS_BODY,    /* reading a PUT body into an upload */
    CS_DISCARD, /* reading and dropping the rest of a body nobody wants */
    CS_SEND,    /* sending a response */
    CS_LINGER,  /* our side shut down; reading what the peer still sends */
    CS_CLOSE,   /* done: the drive loop frees the connection */
    CS_AUTH,    /* a password check runs off the loop (fs_auth.c); the socket is not watched */
    CS_XBODY,   /* reading a small request body into memory (fs_xbody.c) */
    CS_JOB,     /* work runs on a thread of its own (fs_job.c: a COPY or MOVE, a PUT's
                   flush); the socket is not watched */
    CS_NSTATES,
};

#define FL_LOOPBACK 0x01  /* the peer is on this host */
#define FL_HEAD_TIMER 0x02 /* a request head is partly here: its deadline runs */
#define FL_GAP 0x04       /* on the probe list: a raw name may still be arriving */
#define FL_FIN 0x08       /* the peer has shut down its side */
#define FL_SHUT 0x10      /* CS_LINGER: our close_notify waits for room in the socket */

union peer_addr {
    struct sockaddr sa;
    struct sockaddr_in in;
    struct sockaddr_in6 in6;
};

struct worker;
struct put;
struct fs_auth_job;
struct fs_job;
struct fs_jobs;
struct fs_auth_port;
struct fs_digest;
struct fs_follow;
struct fs_follow_job;
struct fs_follow_port;
struct fs_rup;
struct fs_archive;
struct fs_list;
struct fs_xbody;
struct fs_davlocks;
struct fs_davprop;

/* Where a response body comes from, after the head in out. */
struct body_src {
    struct buf *page; /* a page that an archive or list refills, owned; NULL if none */
    int fd;           /* a file, owned; -1 if none */
    off_t off, end;   /* the file range still to send */
    int pipe_fd[2];   /* FS_SEND_SPLICE's pipe; -1 otherwise */
    uint32_t piped;   /* file bytes in the pipe, not yet in the socket */
    struct fs_archive *archive; /* a tar or zip stream that refills page; owned; NULL if none */
    struct fs_list *list; /* a listing that refills page; owned; NULL if none */
    struct fs_davprop *dav; /* a PROPFIND multistatus that refills page; owned; NULL if none */
    struct hash *hash;    /* the file's bytes as they are sent, for a Repr-Digest trailer:
                             the file goes chunked, through rwbuf; owned; NULL if none */
    struct fs_follow_job *follow; /* the same digest hashed by a thread beside the send
                                     (fs_follow.h): the file goes the fast way, in one
                                     chunk; owned; NULL if none */
    uint64_t chunk_left;  /* hash: bytes of the current chunk still to send */
    struct stat hash_st;  /* hash, follow: the version being sent (fs_digest_store) */
};

/* One request and its response. */
struct xchg {
    struct buf out;           /* the response head and small bodies: fixed storage below */
    struct body_src src;
    struct put *put;          /* a PUT under way */
    struct fs_xbody *xb;      /* a body read into memory (fs_xbody.c); owned; NULL if none */
    struct fate_input body;   /* the request body: framing and how much was read */
    bool keep;                /* another request may follow the response */
    bool head_only;           /* HEAD: the body is counted, not sent */
    bool raw;                 /* a raw-protocol exchange */
    int minor;                /* HTTP/1.minor of the request */
    int status;               /* of the response, once fs_respond ran */
    bool cut;                 /* ended with no answer: status is 499 (the peer left) or
                               * 408 (a deadline), for the log only */
    uint64_t head_len;        /* bytes of out that are the head */
    uint64_t sent;            /* bytes written to the socket, head included */
    uint16_t method_len, target_len;
    uint8_t auth;             /* FS_AUTH_*: what the password check said */
    char user[AUTH_USER_MAX + 1]; /* the authenticated user; empty when anonymous */
    uint16_t referer_len, agent_len; /* 0: the header was absent */
    int64_t start_us;         /* when the exchange began (CLOCK_MONOTONIC) */
    char method[16];
    char target[FS_LOG_TARGET];
    char referer[FS_LOG_FIELD];
    char agent[FS_LOG_FIELD];
    char outmem[FS_IO_BUF];
};

struct conn {
    struct srv_conn sc;         /* on the worker's list; sc.deadline is swept by net/srv */
    struct ev_io io;
    struct worker *w;
    struct conn *gprev, *gnext; /* the worker's probe list (FL_GAP) */
    uint8_t state;
    uint8_t flags;
    int64_t gap_at;             /* FL_GAP: when a quiet peer's raw name is complete */
    uint64_t discard;           /* body bytes to drop before the next request */
    struct buf *in;             /* pooled; NULL while nothing is pending */
    struct xchg *x;             /* the exchange under way; NULL between requests */
    struct tls *tls;            /* the TLS session; NULL on plain TCP. All I/O goes
                                   through net/sio with it */
    struct fs_auth_job *job;    /* CS_AUTH: the password check under way */
    struct fs_job *job_work;    /* CS_JOB: the work under way on a thread (fs_job.c) */
    union peer_addr peer;
};

/* The request arrived over TLS (the handshake is done before any request
 * is read, so this holds for every request of the connection). */
static inline bool fs_conn_secure(const struct conn *c)
{
    return c->tls != NULL;
}

struct fs_server;

struct worker {
    struct srv_worker *sw;
    struct ev_loop *loop; /* &sw->loop */
    struct fs_server *srv;
    struct conn *probing; /* connections whose raw name may still be arriving */
    struct buf *pool[256];
    size_t npool;
    struct xchg *xpool[64];
    size_t nxpool;
    struct buf log;
    time_t date_t;
    char date[HTTPDATE_LEN + 1];
    char log_date[32];
    char scratch[4096];
    char *rwbuf; /* FS_RW_BUF bytes, made when first needed: file bytes on their way to
                    the socket (FS_SEND_READWRITE, TLS), request bodies on their way
                    to a file (fs_put_bulk); never held across a call */
    struct fs_auth_port *auth_port; /* --auth: where password checks come back */
    struct fs_follow_port *follow_port; /* where digests hashed beside a send come back */
    struct listing_cache listings; /* the directory snapshots this worker's pages share */
    struct ctimeset davbare; /* files PROPFIND found without dead properties (fs_davprop);
                                made when first needed */
    unsigned davjobs;              /* COPY and MOVE threads this worker's connections wait for */
    unsigned putjobs;              /* upload ends (flush, rename) on threads (fs_put.c) */
};

struct tls_server;

struct fs_server {
    struct fs_options opt;
    struct tls_server *tls; /* NULL: plain only */
    int rootfd;
    struct mime_table mime;
    struct srv srv;
    struct worker *workers;
    struct fs_digest *digest; /* Repr-Digest: the cache and the thread; NULL if it did not start */
    struct fs_follow *follow; /* trailer digests hashed beside the send; NULL: inline only */
    struct fs_rup *rup;       /* --upload: resumable uploads (fs_rup.h); NULL when off */
    struct fs_davlocks *locks; /* --upload: WebDAV locks (fs_davlock.c); NULL when off */
    struct fs_jobs *jobs; /* threads for work off the loop (fs_job.c); NULL: on the loop */
    char csp[384]; /* the listing page's Content-Security-Policy */
};

/* What a response says about itself; fs_respond turns it into a head. */
struct reply {
    int status;
    const char *type;
    bool has_length;
    uint64_t length;
    const struct stat *st; /* Last-Modified, with etag */
    const char *etag;
    const char *content_range;
    const char *location;
    const char *allow;
    const char *extra; /* whole header lines ("Name: value\r\n..."), or NULL */
    const char *csp;         /* Content-Security-Policy */
    const char *disposition; /* Content-Disposition */
    bool chunked;            /* Transfer-Encoding: chunked (no length) */
};

/* fileserver.c: pools. fs_in_get and fs_xchg_get return NULL when memory
 * is short. */
struct buf *fs_in_get(struct worker *w);
void fs_in_put(struct worker *w, struct buf **bp);
struct xchg *fs_xchg_get(struct worker *w);
void fs_xchg_put(struct worker *w, struct xchg **xp);
void fs_probe_list(struct conn *c, bool on);
void fs_log_flush(struct worker *w);

/* fs_conn.c */
/* Takes over the accepted connection fd from peer ss (the fuzz target
 * calls this too). */
void fs_conn_open(struct worker *w, int fd, const struct sockaddr_storage *ss);
bool fs_conn_legal(enum conn_state from, enum conn_state to);
void fs_conn_set_state(struct conn *c, enum conn_state to);
void fs_conn_drive(struct conn *c);
void fs_conn_expired(struct conn *c);
void fs_conn_abort(struct conn *c);
/* Shuts our side down and reads the peer's last bytes until it closes. */
void fs_conn_linger(struct conn *c);
void fs_conn_io(struct ev_loop *loop, struct ev_io *io, uint32_t events);
/* One step of a request body read from data[0..len) (fs_put, fs_xbody): the
 * body bytes in it (*take; a chunked body is decoded in place) and the
 * input they used (*used); body->consumed grows by *used and
 * body->complete says whether the body ended. 0, or -EBADMSG when the
 * chunked framing is broken (nothing counted). */
int fs_body_take(struct fate_input *body, struct http_chunked *ch, char *data, size_t len,
                 size_t *take, size_t *used);
/* Starts an exchange on c for a request (or raw name); NULL when memory is short. */
struct xchg *fs_conn_begin(struct conn *c);

/* fs_reply.c */
void fs_respond(struct conn *c, const struct reply *r);
/* A short HTML error page (only the head for HEAD requests) with the
 * status, Allow when allow is not NULL, the header lines extra ("Name:
 * value\r\n"...) when not NULL, and why, one sentence of our own (not
 * escaped: no text from the request) saying why, when not NULL. */
void fs_respond_page(struct conn *c, int status, const char *allow, const char *extra,
                     const char *why);
/* fs_respond_page without extra lines or a sentence. */
void fs_respond_error(struct conn *c, int status, const char *allow);
/* The sentence of a 403 for what the server's own permissions keep from it. */
#define FS_WHY_UNREADABLE "The server's file permissions do not let it read this."
void fs_log_exchange(struct conn *c);

/* fs_body.c: sends what c->x holds. BODY_WAIT: the file is out and its
 * trailer waits for the digest thread (fs_follow), which drives c when
 * it is back; the socket need not be watched meanwhile. */
enum body_result { BODY_DONE, BODY_AGAIN, BODY_BUDGET, BODY_WAIT, BODY_FAILED };
enum body_result fs_body_send(struct conn *c);
/* The file range in c->x->src (the whole file open at src.fd, whose fstat
 * is st) goes chunked after the head, and its Repr-Digest in the trailer
 * section, unless the file changed meanwhile: hashed by a thread beside
 * the send (fs_follow) while one is free, else as it is sent, through
 * rwbuf. 0 or -ENOMEM. */
int fs_body_trailer_start(struct conn *c, const struct stat *st);
void fs_body_free(struct body_src *s);

/* fs_route.c: handles the parsed request at the start of c->in. */
/* The ETag GET sends for the file st describes (strong, quoted; PROPFIND's
 * getetag is the same). */
void fs_etag(const struct stat *st, char out[COND_ETAG_SIZE]);
void fs_route(struct conn *c, const struct http_request *req, const struct http_info *info);

/* fs_put.c */
/* The status for an error (-errno) from opening a parent or changing an
 * entry beneath the root: PUT, MKCOL and DELETE. 409 a parent missing,
 * 403 refused or out of the root, 507 no space, 414, 413, 400, else 500. */
int fs_change_status(int err);
/* The sentence a page gives for such an error (NULL when none fits). */
const char *fs_change_reason(int err);
/* Answers such an error: fs_change_status's page with fs_change_reason. */
void fs_respond_change_error(struct conn *c, int err);
void fs_put_begin(struct conn *c, const struct http_request *req, const struct http_info *info,
                  const char *rel);
/* PATCH with application/partial-upload to token's upload of rel. */
void fs_put_patch(struct conn *c, const struct http_request *req, const char *rel,
                  const char *token);
void fs_put_feed(struct conn *c);
/* Body bytes still to come that fs_put_bulk may take: a body of known
 * length with c->in empty; 0 otherwise. */
uint64_t fs_put_left(const struct conn *c);
/* n bytes of such a body (n <= fs_put_left), read straight into data
 * rather than through c->in: fewer, larger reads and writes. */
void fs_put_bulk(struct conn *c, char *data, size_t n);
void fs_put_free(struct put **pp);

/* fs_xbody.c: a small request body read whole into memory (CS_XBODY). */
/* Called on the loop once the body is all here: data[0..len) with a NUL
 * after it, arg as given to fs_xbody_begin. Both stay valid until the
 * exchange ends (the response may point into them). It must answer. */
typedef void fs_xbody_cb(struct conn *c, void *arg, char *data, size_t len);
/* Reads the request's body (Content-Length or chunked; none is an empty
 * body, which calls done at once) into a buffer of limit bytes, sending
 * 100 Continue when the client waits for it, under the send deadline; 413
 * when it is longer (at once when Content-Length says so), 400 when its
 * chunked framing is broken: then done is never called. arg is the
 * exchange's from here on and freed with arg_free (when not NULL) when the
 * exchange ends, whatever happens. Returns 0 when the body is being read
 * or done has run, -errno when it answered an error itself. */
int fs_xbody_begin(struct conn *c, size_t limit, fs_xbody_cb *done, void *arg,
                   void (*arg_free)(void *arg));
/* Moves body bytes from c->in into the buffer, in CS_XBODY; calls done at
 * the body's end. */
void fs_xbody_feed(struct conn *c);
void fs_xbody_free(struct fs_xbody **xp);

/* fs_dav.c */
/* True when the exchange's user may change what rel names (a normalised
 * path), going by the spelling alone (--upload and the account's rights):
 * for Allow and the early 405. The change itself is decided by the rights
 * gate on the real parent (fs_auth_open_parent). */
bool fs_may_write(const struct conn *c, const char *rel);
/* The header lines every OPTIONS answer carries: WebDAV classes 1 and 2
 * (RFC 4918 §10.1), and MS-Author-Via for Windows' mini-redirector. */
#define FS_DAV_HEADERS "DAV: 1, 2\r\nMS-Author-Via: DAV\r\n"
/* The Allow header for rel. */
const char *fs_allow(const struct conn *c, const char *rel);
/* Why fs_may_write said no, in a sentence: uploads off, or no right. */
const char *fs_write_refusal(const struct conn *c);
/* The 405 for a change fs_may_write refuses, with Allow and the reason. */
void fs_respond_no_write(struct conn *c, const char *rel);
void fs_dav_mkcol(struct conn *c, const char *rel);
/* trailing_slash: the target ended in "/", so it must name a directory. */
void fs_dav_delete(struct conn *c, const char *rel, bool trailing_slash);

/* The WebDAV methods past MKCOL and DELETE, routed by fs_route with the
 * target resolved (rel normalised beneath the root, flags from
 * path_from_target) and, for all but PROPFIND, fs_may_write already true. */
struct fs_dav_target {
    const char *rel;
    unsigned flags;
};
/* fs_davprop.c: PROPFIND and PROPPATCH. */
void fs_dav_propfind(struct conn *c, const struct http_request *req,
                     const struct http_info *info, const struct fs_dav_target *t);
void fs_dav_proppatch(struct conn *c, const struct http_request *req,
                      const struct http_info *info, const struct fs_dav_target *t);
/* Refills s->page with the next part of a PROPFIND multistatus (as
 * fs_list_fill does for a listing): 0 (an empty page: all out), -EAGAIN,
 * or -errno. */
int fs_davprop_fill(struct body_src *s);
void fs_davprop_free(struct fs_davprop **pp);
/* Forgets the dead properties kept in the sidecar store for the object st
 * described (DELETE of its last name); nothing when they were attributes. */
void fs_davprop_forget(const struct fs_server *s, const struct stat *st);
/* Gives the object to describes (a copy just made) the dead properties the
 * sidecar store keeps for from, replacing any kept for to; nothing to do
 * when from has none there (its attributes, if any, were copied with it).
 * Safe on a job thread. 0 or -errno. */
int fs_davprop_copy(const struct fs_server *s, const struct stat *from, const struct stat *to);
/* A PUT leaves the properties of what it replaces as they were (RFC 4918
 * §9.7.1): gives the file open at newfd (the upload, before its rename
 * over name in dirfd) the dead properties of the regular file now there,
 * its user.dav: attributes or its sidecar record. *forget is then the old
 * file's stat when its sidecar record is to go once the rename replaced
 * it (fs_davprop_forget), else zeroed. Nothing there is no error. Safe on
 * a job thread. 0 or -errno. */
int fs_davprop_carry(const struct fs_server *s, int dirfd, const char *name, int newfd,
                     struct stat *forget);
/* fs_davlock.c: appends the <D:activelock> elements of the locks on rel
 * (a normalised path beneath the root) for PROPFIND's lockdiscovery, as c's
 * user may see them. 0 or -errno. fs_davprop.c holds a weak stand-in that
 * appends nothing, until the locks define it. */
int fs_davlock_discovery(struct conn *c, const char *rel, struct buf *out);
/* fs_davcopy.c: COPY and MOVE (req->method says which). */
void fs_dav_copymove(struct conn *c, const struct http_request *req,
                     const struct http_info *info, const struct fs_dav_target *t);
/* The lock hook, asked before COPY or MOVE changes anything: whether
 * req may change rel (a normalised path) and, with depth_infinity, what
 * lies beneath it, given the locks held and req's If header. Returns 0 to
 * go on, or the HTTP status to answer (423 Locked, 412 for an If that
 * fails). fs_davlock.c implements it. */
int fs_davlock_check(struct conn *c, const struct http_request *req, const char *rel,
                     bool depth_infinity);
/* fs_davcopy.c: DELETE of the folder name in dirfd (rel as spelled) with
 * all it holds (RFC 4918 §9.6.1), never following a link, each member
 * removed only with the right to write it (fs_auth_may_at on its real
 * parent), on a thread of its own as a COPY of a tree is (dirfd stays the
 * caller's). Answers 204, 207 naming the members that stayed and why, or
 * the error. */
void fs_dav_delete_tree(struct conn *c, int dirfd, const char *name, const char *rel);
/* fs_job.c: work off the loop. A job's work runs on a thread of its own;
 * its answer then runs on the loop with the connection (and must move it
 * out of CS_JOB: an answer, or CS_CLOSE); its free runs last, on the loop,
 * or on the thread when the connection closed meanwhile (so it touches
 * neither). */
typedef void (*fs_job_work_cb)(void *arg);
typedef void (*fs_job_answer_cb)(struct conn *c, void *arg);
typedef void (*fs_job_free_cb)(void *arg);
struct fs_job_ops {
    fs_job_work_cb work;
    fs_job_answer_cb answer;
    fs_job_free_cb free;
};
/* Starts ops->work(arg) on a thread, c waiting in CS_JOB off its socket;
 * *count (a worker's count, NULL for none) counts the job while c waits
 * for it. 0 (the job owns arg now), or -errno: nothing started, the
 * caller still owns arg (-ECANCELED when the server has no threads for
 * jobs or is stopping). */
int fs_job_start(struct conn *c, const struct fs_job_ops *ops, void *arg, unsigned *count);
/* Forgets c's job (c is closing): its thread finishes the work and frees
 * arg. Nothing when c has none. */
void fs_job_cancel(struct conn *c);
/* The server's job threads: fs_jobs_new returns NULL when memory is short
 * (the work then runs on the loop); fs_jobs_free, once the workers are
 * gone, raises the stop flag and waits for the threads still running, so
 * none outlives the server. NULL is fine. */
struct fs_jobs *fs_jobs_new(void);
void fs_jobs_free(struct fs_jobs *j);
/* Whether the server is stopping (long work ends at its next step). Any
 * thread; false for NULL. */
bool fs_jobs_stopping(struct fs_jobs *j);
/* fs_davlock.c: LOCK and UNLOCK. */
void fs_dav_lock(struct conn *c, const struct http_request *req, const struct http_info *info,
                 const struct fs_dav_target *t);
void fs_dav_unlock(struct conn *c, const struct http_request *req,
                   const struct http_info *info, const struct fs_dav_target *t);
/* The server's lock table, read from the state directory beneath rootfd
 * (expired locks dropped). 0 or -ENOMEM. */
int fs_davlock_open(int rootfd, struct fs_davlocks **out);
void fs_davlock_close(struct fs_davlocks *l);
/* Whether the request may change rel (with depth_infinity, everything
 * beneath it too): 0 when no lock stands in the way (none, or the If
 * header submits the token of each, taken by this very user) and the If
 * header, if any, holds (its ETags apply to unlocked resources too); else
 * the status to answer with, nothing sent yet: 400 (an If header that does
 * not parse), 412 (its conditions fail), 423 (locked). */
int fs_davlock_check(struct conn *c, const struct http_request *req, const char *rel,
                     bool depth_infinity);
/* Answers fs_davlock_check's status for rel: 423 with the
 * lock-token-submitted precondition (RFC 4918 §16), else a page. */
void fs_davlock_refuse(struct conn *c, int status, const char *rel);
/* Drops the locks on rel and beneath it: it was deleted or moved away. */
void fs_davlock_forget(struct conn *c, const char *rel);
/* The same without a connection: from a COPY/MOVE/DELETE job thread,
 * whose connection may be gone (the lock table has its own mutex and
 * outlives the threads). */
void fs_davlock_forget_at(const struct fs_server *s, const char *rel);

/* fs_archive.c (formats in fs_tar.c, fs_zip.c): starts sending the
 * directory open at dirfd (which this takes over), named rel beneath the
 * root, as a tar or zip archive, named after the folder (the served
 * folder's own name for the root). */
enum fs_archive_kind { FS_ARCHIVE_TAR, FS_ARCHIVE_ZIP };
void fs_archive_serve(struct conn *c, int dirfd, const char *rel, enum fs_archive_kind kind);
/* Refills s->page with the next part of the archive (chunk-framed when the
 * response is chunked). Returns 0 (an empty page then means the archive is
 * all out), -EAGAIN when this turn's work is used up with nothing made yet,
 * or -errno. */
int fs_archive_fill(struct body_src *s);
void fs_archive_free(struct fs_archive **tp);

/* fs_list.c: starts sending the page p for the directory open at dirfd
 * (which this takes over), p->rel beneath the root. */
void fs_list_serve(struct conn *c, int dirfd, const struct listing_page *p);
/* Refills s->page with the next part of the page (chunk-framed when the
 * response is chunked). Returns 0 (an empty page then means the page is
 * all out), -EAGAIN when this turn's work is used up with nothing made
 * yet, or -errno. */
int fs_list_fill(struct body_src *s);
void fs_list_free(struct fs_list **lp);

/* fs_raw.c: answers the raw name in c->in. */
void fs_raw_serve(struct conn *c);

#endif
