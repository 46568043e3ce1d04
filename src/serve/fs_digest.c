/* The digests of served files: the cache, the attribute, the thread. See
 * fs_digest.h. One mutex guards the queue, the jobs and the memory cache;
 * it is never held while a file is read. */
#include "serve/fs_digest.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "serve/fs.h"
#include "core/hash.h"
#include "net/mbox.h"

#define INLINE_MAX (1u << 20) /* hashed on the loop: about half a millisecond with SHA-NI */
#define QUEUE 16              /* files being hashed or waiting for the thread */
#define WAITERS 8             /* requests of one worker waiting for one file */
#define CACHE 1024            /* remembered digests, direct-mapped by inode */

struct entry {
    uint64_t dev;
    struct digest_stamp st;
    unsigned char sha[DIGEST_SHA256_LEN];
    bool used;
};

struct fs_digest_port;

struct fs_digest_job {
    struct fs_digest_job *next; /* on the queue, a port's done list, or the free list */
    struct fs_digest_port *port;
    int fd; /* a duplicate of the file's descriptor, closed by the thread */
    uint64_t dev;
    struct digest_stamp st;
    unsigned char sha[DIGEST_SHA256_LEN];
    bool ok;
    size_t nc;                /* 0: free */
    struct conn *c[WAITERS];  /* NULL: that request stopped waiting */
};

struct fs_digest_port {
    struct mbox mb;
    struct fs_digest *d;
    struct fs_digest_job *done;
};

struct fs_digest {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    atomic_bool stopping; /* also ends a file being hashed */
    struct fs_digest_job jobs[QUEUE];
    struct fs_digest_job *free_jobs, *queue, *queue_tail;
    struct entry cache[CACHE];
};

static struct digest_stamp stamp_of(const struct stat *st)
{
    return (struct digest_stamp){
        .size = (uint64_t)st->st_size,
        .mtime_ns = (uint64_t)st->st_mtim.tv_sec * 1000000000u + (uint64_t)st->st_mtim.tv_nsec,
        .ino = (uint64_t)st->st_ino,
    };
}

static bool same_version(uint64_t dev_a, const struct digest_stamp *a, uint64_t dev_b,
                         const struct digest_stamp *b)
{
    return dev_a == dev_b && a->size == b->size && a->mtime_ns == b->mtime_ns && a->ino == b->ino;
}

/* ---- the memory cache (under d->mu) ---------------------------------------- */

static struct entry *slot(struct fs_digest *d, uint64_t dev, uint64_t ino)
{
    return &d->cache[(ino * 0x9e3779b97f4a7c15ull ^ dev) % CACHE];
}

static bool cache_get(struct fs_digest *d, uint64_t dev, const struct digest_stamp *st,
                      unsigned char *out)
{
    struct entry *e = slot(d, dev, st->ino);

    if (!e->used || !same_version(e->dev, &e->st, dev, st))
        return false;
    memcpy(out, e->sha, DIGEST_SHA256_LEN);
    return true;
}

static void cache_put(struct fs_digest *d, uint64_t dev, const struct digest_stamp *st,
                      const unsigned char *sha)
{
    struct entry *e = slot(d, dev, st->ino);

    e->dev = dev;
    e->st = *st;
    memcpy(e->sha, sha, DIGEST_SHA256_LEN);
    e->used = true;
}

/* The attribute (best effort: a file system without user attributes, or a
 * file the server may not write, keeps only the memory cache) and the
 * cache. Any thread. */
static void store(struct fs_digest *d, int fd, uint64_t dev, const struct digest_stamp *st,
                  const unsigned char *sha)
{
    char text[DIGEST_STAMP_MAX];
    size_t n = digest_stamp_format(st, sha, text);

    if (fsetxattr(fd, FS_DIGEST_XATTR, text, n, 0) < 0) {
        /* ENOTSUP, EACCES, EPERM, EROFS, ENOSPC: the memory cache serves */
    }
    pthread_mutex_lock(&d->mu);
    cache_put(d, dev, st, sha);
    pthread_mutex_unlock(&d->mu);
}

/* ---- the thread ------------------------------------------------------------ */

/* Hashes j's file, unless the cache already has it (a job of another
 * worker for the same version went first). The version must still be the
 * one stamped when the hashing ends, or the digest describes nothing. */
static void hash_job(struct fs_digest *d, struct fs_digest_job *j)
{
    struct stat after;
    uint64_t size = 0;

    pthread_mutex_lock(&d->mu);
    j->ok = cache_get(d, j->dev, &j->st, j->sha);
    pthread_mutex_unlock(&d->mu);
    if (!j->ok && hash_sha256_fd(j->fd, j->sha, &size, &d->stopping) == 0 && size == j->st.size &&
        fstat(j->fd, &after) == 0) {
        struct digest_stamp now = stamp_of(&after);
        j->ok = same_version(j->dev, &j->st, (uint64_t)after.st_dev, &now);
        if (j->ok)
            store(d, j->fd, j->dev, &j->st, j->sha);
    }
    close(j->fd);
    j->fd = -1;
}

static void *digest_thread(void *arg)
{
    struct fs_digest *d = arg;

    pthread_mutex_lock(&d->mu);
    for (;;) {
        while (!d->stopping && d->queue == NULL)
            pthread_cond_wait(&d->cv, &d->mu);
        if (d->stopping)
            break;
        struct fs_digest_job *j = d->queue;
        d->queue = j->next;
        if (d->queue == NULL)
            d->queue_tail = NULL;
        pthread_mutex_unlock(&d->mu);
        hash_job(d, j);
        pthread_mutex_lock(&d->mu);
        struct fs_digest_port *p = j->port;
        j->next = p->done;
        p->done = j;
        mbox_post(&p->mb);
    }
    pthread_mutex_unlock(&d->mu);
    return NULL;
}

int fs_digest_start(struct fs_digest **out)
{
    struct fs_digest *d = calloc(1, sizeof *d);

    if (d == NULL)
        return -ENOMEM;
    pthread_mutex_init(&d->mu, NULL);
    pthread_cond_init(&d->cv, NULL);
    for (int i = QUEUE - 1; i >= 0; i--) {
        d->jobs[i].fd = -1;
        d->jobs[i].next = d->free_jobs;
        d->free_jobs = &d->jobs[i];
    }
    int rc = pthread_create(&d->thread, NULL, digest_thread, d);
    if (rc != 0) {
        pthread_cond_destroy(&d->cv);
        pthread_mutex_destroy(&d->mu);
        free(d);
        return -rc;
    }
    *out = d;
    return 0;
}

void fs_digest_stop(struct fs_digest *d)
{
    if (d == NULL)
        return;
    pthread_mutex_lock(&d->mu);
    d->stopping = true;
    pthread_cond_broadcast(&d->cv);
    pthread_mutex_unlock(&d->mu);
    pthread_join(d->thread, NULL);
    for (int i = 0; i < QUEUE; i++)
        if (d->jobs[i].fd >= 0)
            close(d->jobs[i].fd); /* queued, never hashed */
    pthread_cond_destroy(&d->cv);
    pthread_mutex_destroy(&d->mu);
    free(d);
}

/* ---- results back on the worker ---------------------------------------------- */

static void port_cb(struct mbox *m)
{
    struct fs_digest_port *p = container_of(m, struct fs_digest_port, mb);
    struct fs_digest *d = p->d;

    pthread_mutex_lock(&d->mu);
    struct fs_digest_job *j = p->done;
    p->done = NULL;
    pthread_mutex_unlock(&d->mu);
    while (j != NULL) {
        struct conn *cs[WAITERS];
        pthread_mutex_lock(&d->mu);
        struct fs_digest_job *next = j->next;
        size_t nc = j->nc;
        bool ok = j->ok;
        struct digest_stamp st = j->st;
        uint64_t dev = j->dev;
        unsigned char sha[DIGEST_SHA256_LEN];
        memcpy(sha, j->sha, sizeof sha);
        memcpy(cs, j->c, nc * sizeof cs[0]);
        j->nc = 0;
        j->next = d->free_jobs;
        d->free_jobs = j;
        pthread_mutex_unlock(&d->mu);
        /* Every waiter is told before any runs: a drive may close another
         * waiter, whose cancel must then find nothing. */
        for (size_t i = 0; i < nc; i++) {
            if (cs[i] == NULL)
                continue;
            struct xchg *x = cs[i]->x;
            x->dg = ok ? FS_DG_HAVE : FS_DG_GAVE_UP;
            x->dg_dev = dev;
            x->dg_st = st;
            memcpy(x->dg_sha, sha, sizeof sha);
        }
        for (size_t i = 0; i < nc; i++)
            if (cs[i] != NULL)
                fs_conn_drive(cs[i]);
        j = next;
    }
}

int fs_digest_port_open(struct fs_digest *d, struct worker *w)
{
    struct fs_digest_port *p = calloc(1, sizeof *p);

    if (p == NULL)
        return -ENOMEM;
    p->d = d;
    int rc = mbox_open(&p->mb, w->loop, port_cb);
    if (rc < 0) {
        free(p);
        return rc;
    }
    w->digest_port = p;
    return 0;
}

void fs_digest_port_close(struct worker *w)
{
    struct fs_digest_port *p = w->digest_port;

    if (p == NULL)
        return;
    w->digest_port = NULL;
    mbox_close(&p->mb);
    free(p);
}

/* ---- on the loop ------------------------------------------------------------- */

void fs_digest_cancel(struct conn *c)
{
    struct fs_digest *d = c->w->srv->digest;

    if (d == NULL || c->x == NULL || c->x->dg != FS_DG_WAIT)
        return;
    pthread_mutex_lock(&d->mu);
    for (int i = 0; i < QUEUE; i++)
        for (size_t k = 0; k < d->jobs[i].nc; k++)
            if (d->jobs[i].c[k] == c)
                d->jobs[i].c[k] = NULL;
    pthread_mutex_unlock(&d->mu);
    c->x->dg = FS_DG_GAVE_UP;
}

/* c waits for its digest in CS_DIGEST, off the socket (level-triggered
 * input would spin), under the head deadline. */
static enum fs_digest_get wait_for(struct conn *c)
{
    int64_t limit = c->w->loop->now + c->w->srv->opt.head_timeout_ms;

    c->x->dg = FS_DG_WAIT;
    fs_conn_set_state(c, CS_DIGEST);
    ev_io_stop(c->w->loop, &c->io);
    if (c->sc.deadline == 0 || c->sc.deadline > limit)
        c->sc.deadline = limit;
    return FS_DIGEST_WAIT;
}

/* Queues the file for the thread, or joins the job of this worker already
 * hashing the same version. FS_DIGEST_NONE when the queue is full. */
static enum fs_digest_get queue_job(struct fs_digest *d, struct conn *c, int fd, uint64_t dev,
                                    const struct digest_stamp *st)
{
    struct fs_digest_port *p = c->w->digest_port;

    if (p == NULL)
        return FS_DIGEST_NONE;
    pthread_mutex_lock(&d->mu);
    for (int i = 0; i < QUEUE; i++) {
        struct fs_digest_job *j = &d->jobs[i];
        if (j->nc > 0 && j->nc < WAITERS && j->port == p && same_version(j->dev, &j->st, dev, st)) {
            j->c[j->nc++] = c;
            pthread_mutex_unlock(&d->mu);
            return wait_for(c);
        }
    }
    struct fs_digest_job *j = d->free_jobs;
    int dfd = j != NULL ? fcntl(fd, F_DUPFD_CLOEXEC, 0) : -1;
    if (dfd < 0) {
        pthread_mutex_unlock(&d->mu);
        return FS_DIGEST_NONE;
    }
    d->free_jobs = j->next;
    j->next = NULL;
    j->port = p;
    j->fd = dfd;
    j->dev = dev;
    j->st = *st;
    j->ok = false;
    j->c[0] = c;
    j->nc = 1;
    if (d->queue_tail != NULL)
        d->queue_tail->next = j;
    else
        d->queue = j;
    d->queue_tail = j;
    pthread_cond_signal(&d->cv);
    pthread_mutex_unlock(&d->mu);
    return wait_for(c);
}

enum fs_digest_get fs_digest_get(struct conn *c, int fd, const struct stat *st,
                                 unsigned char out[DIGEST_SHA256_LEN])
{
    struct fs_digest *d = c->w->srv->digest;
    struct xchg *x = c->x;
    struct digest_stamp want = stamp_of(st);
    uint64_t dev = (uint64_t)st->st_dev;
    char text[DIGEST_STAMP_MAX];

    if (x->dg == FS_DG_HAVE && same_version(x->dg_dev, &x->dg_st, dev, &want)) {
        memcpy(out, x->dg_sha, DIGEST_SHA256_LEN);
        return FS_DIGEST_HAVE;
    }
    /* Gave up, or the file changed while it was hashed: no second wait. */
    if (d == NULL || x->dg != FS_DG_NONE)
        return FS_DIGEST_NONE;
    pthread_mutex_lock(&d->mu);
    bool hit = cache_get(d, dev, &want, out);
    pthread_mutex_unlock(&d->mu);
    if (hit)
        return FS_DIGEST_HAVE;
    ssize_t n = fgetxattr(fd, FS_DIGEST_XATTR, text, sizeof text);
    if (n > 0 && digest_stamp_parse(text, (size_t)n, &want, out) == 1) {
        pthread_mutex_lock(&d->mu);
        cache_put(d, dev, &want, out);
        pthread_mutex_unlock(&d->mu);
        return FS_DIGEST_HAVE;
    }
    if (want.size > INLINE_MAX)
        return queue_job(d, c, fd, dev, &want);
    uint64_t size = 0;
    if (hash_sha256_fd(fd, out, &size, NULL) < 0 || size != want.size)
        return FS_DIGEST_NONE;
    store(d, fd, dev, &want, out);
    return FS_DIGEST_HAVE;
}

void fs_digest_remember(struct fs_digest *d, int fd, const unsigned char sha[DIGEST_SHA256_LEN])
{
    struct stat st;

    if (d == NULL || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
        return;
    struct digest_stamp s = stamp_of(&st);
    store(d, fd, (uint64_t)st.st_dev, &s, sha);
}
