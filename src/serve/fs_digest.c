/* The digests of served files: the cache, the attribute, the thread. See
 * fs_digest.h. One mutex guards the queue and the memory cache; it is
 * never held while a file is read. */
#include "serve/fs_digest.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/ioprio.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/hash.h"

#define QUEUE 64        /* files waiting for the thread */
#define CACHE 1024      /* remembered digests, direct-mapped by inode */
#define STEP (1u << 20) /* the thread reads this much at a time */
#define NAP_MS 50       /* the longest sleep between two looks at stopping */

struct entry {
    uint64_t dev;
    struct digest_stamp st;
    unsigned char sha[DIGEST_SHA256_LEN];
    bool used;
};

struct job {
    int fd; /* a duplicate of the file's descriptor, closed by the thread */
    uint64_t dev;
    struct digest_stamp st;
};

struct fs_digest {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    atomic_bool stopping;    /* also ends a file being hashed */
    unsigned rate_mib;       /* 0: no limit */
    struct job queue[QUEUE]; /* a ring: head, then n jobs */
    size_t head, n;
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

/* Whether the file open at fd is still the version (dev, st). */
static bool still(int fd, uint64_t dev, const struct digest_stamp *st)
{
    struct stat now;

    if (fstat(fd, &now) < 0)
        return false;
    struct digest_stamp s = stamp_of(&now);
    return same_version(dev, st, (uint64_t)now.st_dev, &s);
}

/* ---- the thread ------------------------------------------------------------ */

/* Sleeps ms milliseconds, in naps, unless the server stops. */
static void nap(struct fs_digest *d, int64_t ms)
{
    while (ms > 0 && !atomic_load(&d->stopping)) {
        int64_t step = ms < NAP_MS ? ms : NAP_MS;
        struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)step * 1000000L};
        nanosleep(&ts, NULL);
        ms -= step;
    }
}

/* Hashes the file at fd from its start, reading at most d->rate_mib MiB a
 * second. 0 with out set and *size the bytes hashed, or -errno. */
static int hash_slowly(struct fs_digest *d, int fd, unsigned char *buf,
                       unsigned char out[DIGEST_SHA256_LEN], uint64_t *size)
{
    struct hash *h = hash_new();
    int64_t t0 = clock_ms();
    uint64_t off = 0;

    if (h == NULL)
        return -ENOMEM;
    for (;;) {
        if (atomic_load(&d->stopping)) {
            hash_free(h);
            return -ECANCELED;
        }
        ssize_t n = pread(fd, buf, STEP, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int err = -errno;
            hash_free(h);
            return err;
        }
        if (n == 0)
            break;
        hash_update(h, buf, (size_t)n);
        off += (uint64_t)n;
        if (d->rate_mib > 0) /* where the rate says we may be by now */
            nap(d, (int64_t)(off * 1000 / ((uint64_t)d->rate_mib << 20)) - (clock_ms() - t0));
    }
    hash_final(h, out);
    *size = off;
    return 0;
}

/* Hashes j's file, unless the cache already has it. The version must still
 * be the one stamped when the hashing ends, or the digest describes
 * nothing. */
static void hash_job(struct fs_digest *d, struct job *j, unsigned char *buf)
{
    unsigned char sha[DIGEST_SHA256_LEN];
    uint64_t size = 0;

    pthread_mutex_lock(&d->mu);
    bool known = cache_get(d, j->dev, &j->st, sha);
    pthread_mutex_unlock(&d->mu);
    if (!known && hash_slowly(d, j->fd, buf, sha, &size) == 0 && size == j->st.size &&
        still(j->fd, j->dev, &j->st))
        store(d, j->fd, j->dev, &j->st, sha);
    close(j->fd);
}

/* The thread yields to everything else: the lowest CPU priority and the
 * idle I/O class (best effort: refused, it still keeps its rate). */
static void lower_priority(void)
{
    pid_t tid = (pid_t)syscall(SYS_gettid);

    if (setpriority(PRIO_PROCESS, (id_t)tid, 19) < 0) {
        /* not allowed: the rate still bounds it */
    }
    if (syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, tid, IOPRIO_PRIO_VALUE(IOPRIO_CLASS_IDLE, 0)) <
        0) {
        /* likewise */
    }
}

static void *digest_thread(void *arg)
{
    struct fs_digest *d = arg;
    unsigned char *buf = malloc(STEP);

    lower_priority();
    pthread_mutex_lock(&d->mu);
    for (;;) {
        while (!d->stopping && d->n == 0)
            pthread_cond_wait(&d->cv, &d->mu);
        if (d->stopping)
            break;
        struct job j = d->queue[d->head];
        /* The job stays queued while it is hashed, so it is not queued twice. */
        pthread_mutex_unlock(&d->mu);
        if (buf != NULL)
            hash_job(d, &j, buf);
        else
            close(j.fd);
        pthread_mutex_lock(&d->mu);
        d->head = (d->head + 1) % QUEUE;
        d->n--;
    }
    pthread_mutex_unlock(&d->mu);
    free(buf);
    return NULL;
}

int fs_digest_start(unsigned rate_mib, struct fs_digest **out)
{
    struct fs_digest *d = calloc(1, sizeof *d);

    if (d == NULL)
        return -ENOMEM;
    d->rate_mib = rate_mib;
    pthread_mutex_init(&d->mu, NULL);
    pthread_cond_init(&d->cv, NULL);
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
    for (size_t i = 0; i < d->n; i++)
        close(d->queue[(d->head + i) % QUEUE].fd); /* queued, never hashed */
    pthread_cond_destroy(&d->cv);
    pthread_mutex_destroy(&d->mu);
    free(d);
}

/* ---- on the loop ------------------------------------------------------------- */

void fs_digest_queue(struct fs_digest *d, int fd, const struct stat *st)
{
    struct digest_stamp want = stamp_of(st);
    uint64_t dev = (uint64_t)st->st_dev;

    if (d == NULL)
        return;
    pthread_mutex_lock(&d->mu);
    for (size_t i = 0; i < d->n; i++) {
        struct job *j = &d->queue[(d->head + i) % QUEUE];
        if (same_version(j->dev, &j->st, dev, &want))
            goto out;
    }
    if (d->n == QUEUE)
        goto out; /* a later request queues it again */
    int dfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (dfd < 0)
        goto out;
    d->queue[(d->head + d->n) % QUEUE] = (struct job){.fd = dfd, .dev = dev, .st = want};
    d->n++;
    pthread_cond_signal(&d->cv);
out:
    pthread_mutex_unlock(&d->mu);
}

bool fs_digest_known(struct fs_digest *d, int fd, const struct stat *st,
                     unsigned char out[DIGEST_SHA256_LEN])
{
    struct digest_stamp want = stamp_of(st);
    uint64_t dev = (uint64_t)st->st_dev;
    char text[DIGEST_STAMP_MAX];

    if (d == NULL)
        return false;
    pthread_mutex_lock(&d->mu);
    bool hit = cache_get(d, dev, &want, out);
    pthread_mutex_unlock(&d->mu);
    if (hit)
        return true;
    ssize_t n = fgetxattr(fd, FS_DIGEST_XATTR, text, sizeof text);
    if (n > 0 && digest_stamp_parse(text, (size_t)n, &want, out) == 1) {
        pthread_mutex_lock(&d->mu);
        cache_put(d, dev, &want, out);
        pthread_mutex_unlock(&d->mu);
        return true;
    }
    if (want.size > FS_DIGEST_INLINE_MAX)
        return false;
    uint64_t size = 0;
    if (hash_sha256_fd(fd, out, &size, NULL) < 0 || size != want.size)
        return false;
    store(d, fd, dev, &want, out);
    return true;
}

bool fs_digest_store(struct fs_digest *d, int fd, const struct stat *st,
                     const unsigned char sha[DIGEST_SHA256_LEN])
{
    struct digest_stamp s = stamp_of(st);
    uint64_t dev = (uint64_t)st->st_dev;

    if (!still(fd, dev, &s))
        return false;
    if (d != NULL)
        store(d, fd, dev, &s, sha);
    return true;
}

void fs_digest_remember(struct fs_digest *d, int fd, const unsigned char sha[DIGEST_SHA256_LEN])
{
    struct stat st;

    if (d == NULL || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
        return;
    struct digest_stamp s = stamp_of(&st);
    store(d, fd, (uint64_t)st.st_dev, &s, sha);
}
