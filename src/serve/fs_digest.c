/* The digests of served files: the cache, the attribute, the thread. See
 * fs_digest.h. One mutex guards the queue and the memory cache; it is
 * never held while a file is read. */
#include "serve/fs_digest.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/ioprio.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/fsx.h"
#include "core/hash.h"
#include "serve/fs_rup.h"

#define QUEUE 64        /* files waiting for the thread */
#define CACHE 1024      /* remembered digests, direct-mapped by inode */
#define STEP (1u << 20) /* the thread reads this much at a time */
#define NAP_MS 50       /* the longest sleep between two looks at stopping */
#define DEPTH 64        /* folders deep the pass goes */
#define IDLE_MS 500     /* how often an idle thread looks for changes */
#define REPORT_MS 10000 /* how often the first pass says how far it is */
#define WATCH_MASK (IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE)
#define PENDING 64 /* folders made or moved in, waiting to be read */

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

/* The pass over the tree and the watches that follow it (the thread's
 * alone). rel holds the path of the folder being read, beneath the root. */
struct scan {
    int rootfd; /* a duplicate; -1: no pass */
    bool hidden;
    int ino;           /* inotify; -1 without */
    DIR *stack[DEPTH]; /* the folders being read, the root first */
    size_t rel_len[DEPTH];
    size_t depth;
    char rel[PATH_MAX];
    char **watched; /* by watch descriptor: the folder's path beneath the root */
    size_t nwatched;
    char *pending[PENDING]; /* paths beneath the root of folders to read next */
    size_t npending;
    bool done; /* the first pass is over */
    int64_t t0, reported;
    uint64_t files, hashed, bytes;
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
    struct scan scan;
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

/* The digest of the version (dev, st) of the file open at fd from the
 * cache or the attribute: true with out set. Any thread. */
static bool lookup(struct fs_digest *d, int fd, uint64_t dev, const struct digest_stamp *st,
                   unsigned char *out)
{
    char text[DIGEST_STAMP_MAX];

    pthread_mutex_lock(&d->mu);
    bool hit = cache_get(d, dev, st, out);
    pthread_mutex_unlock(&d->mu);
    if (hit)
        return true;
    ssize_t n = fgetxattr(fd, FS_DIGEST_XATTR, text, sizeof text);
    if (n <= 0 || digest_stamp_parse(text, (size_t)n, st, out) != 1)
        return false;
    pthread_mutex_lock(&d->mu);
    cache_put(d, dev, st, out);
    pthread_mutex_unlock(&d->mu);
    return true;
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

/* Hashes the version (dev, st) of the file open at fd, unless its digest
 * is known. The version must still be the one stamped when the hashing
 * ends, or the digest describes nothing. True when it was hashed. */
static bool hash_version(struct fs_digest *d, int fd, uint64_t dev, const struct digest_stamp *st,
                         unsigned char *buf)
{
    unsigned char sha[DIGEST_SHA256_LEN];
    uint64_t size = 0;

    if (lookup(d, fd, dev, st, sha))
        return false;
    if (hash_slowly(d, fd, buf, sha, &size) == 0 && size == st->size && still(fd, dev, st)) {
        store(d, fd, dev, st, sha);
        return true;
    }
    return false;
}

static void hash_job(struct fs_digest *d, struct job *j, unsigned char *buf)
{
    hash_version(d, j->fd, j->dev, &j->st, buf);
    close(j->fd);
}

/* ---- the pass over the tree and its watches (the thread's) ------------------- */

/* Whether the pass looks at the entry called name. */
static bool scanned_name(const struct scan *sc, const char *name)
{
    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0 || strcmp(name, FS_RUP_DIR) == 0)
        return false;
    return sc->hidden || name[0] != '.';
}

/* Hashes the entry name of the folder dirfd when it is a regular file
 * whose digest is not known. */
static void scan_file(struct fs_digest *d, int dirfd, const char *name, unsigned char *buf)
{
    struct scan *sc = &d->scan;
    struct stat st;
    int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);

    if (fd < 0)
        return;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
        struct digest_stamp s = stamp_of(&st);
        sc->files++;
        if (hash_version(d, fd, (uint64_t)st.st_dev, &s, buf)) {
            sc->hashed++;
            sc->bytes += s.size;
        }
    }
    close(fd);
}

/* Watches the folder open at fd, whose path beneath the root is in
 * sc->rel: inotify then names the files written, moved or linked in. */
static void watch(struct scan *sc, int fd)
{
    char proc[64];

    if (sc->ino < 0)
        return;
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
    int wd = inotify_add_watch(sc->ino, proc, WATCH_MASK | IN_ONLYDIR);
    if (wd < 0)
        return; /* fs.inotify.max_user_watches: this folder is hashed once, not followed */
    if ((size_t)wd >= sc->nwatched) {
        size_t n = (size_t)wd * 2 + 16;
        char **w = realloc(sc->watched, n * sizeof *w);
        if (w == NULL)
            return;
        memset(w + sc->nwatched, 0, (n - sc->nwatched) * sizeof *w);
        sc->watched = w;
        sc->nwatched = n;
    }
    free(sc->watched[wd]);
    sc->watched[wd] = strdup(sc->rel);
}

/* Opens the folder name of the folder dirfd, whose path beneath the root
 * is the first plen bytes of sc->rel (the root itself when root is set),
 * and starts reading it. */
static void enter(struct scan *sc, int dirfd, const char *name, size_t plen, bool root)
{
    size_t len = plen;
    size_t nl = strlen(name);

    if (sc->depth == DEPTH || len + 1 + nl >= sizeof sc->rel)
        return;
    int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return;
    DIR *dir = fdopendir(fd);
    if (dir == NULL) {
        close(fd);
        return;
    }
    if (!root) {
        if (len > 0)
            sc->rel[len++] = '/';
        memcpy(sc->rel + len, name, nl);
        len += nl;
    }
    sc->rel[len] = '\0';
    sc->stack[sc->depth] = dir;
    sc->rel_len[sc->depth] = len;
    sc->depth++;
    watch(sc, fd);
}

/* One step of the first pass: the next entry of the folder being read. */
static void walk_step(struct fs_digest *d, unsigned char *buf)
{
    struct scan *sc = &d->scan;
    DIR *dir = sc->stack[sc->depth - 1];
    struct dirent *e = readdir(dir);

    if (e == NULL) {
        closedir(dir);
        sc->depth--;
        if (sc->depth > 0)
            sc->rel[sc->rel_len[sc->depth - 1]] = '\0';
        return;
    }
    if (!scanned_name(sc, e->d_name))
        return;
    if (e->d_type == DT_DIR)
        enter(sc, dirfd(dir), e->d_name, sc->rel_len[sc->depth - 1], false);
    else if (e->d_type == DT_REG || e->d_type == DT_UNKNOWN)
        scan_file(d, dirfd(dir), e->d_name, buf);
}

/* The files inotify named: each hashed (a folder made or moved in is
 * read like the first pass, after the folders being read; past PENDING of
 * them waiting, one is left to requests). False when there was nothing to
 * read. */
static bool changes(struct fs_digest *d, unsigned char *buf)
{
    struct scan *sc = &d->scan;
    char path[PATH_MAX];
    _Alignas(struct inotify_event) unsigned char ev[8192];

    if (sc->ino < 0)
        return false;
    ssize_t n = read(sc->ino, ev, sizeof ev);
    if (n <= 0)
        return false;
    for (ssize_t i = 0; i + (ssize_t)sizeof(struct inotify_event) <= n;) {
        struct inotify_event *e = (struct inotify_event *)(void *)(ev + i);
        i += (ssize_t)(sizeof *e + e->len);
        if (e->wd < 0 || (size_t)e->wd >= sc->nwatched || sc->watched[e->wd] == NULL)
            continue;
        if (e->mask & IN_IGNORED) {
            free(sc->watched[e->wd]);
            sc->watched[e->wd] = NULL;
            continue;
        }
        if (e->len == 0 || !scanned_name(sc, e->name))
            continue;
        const char *dir = sc->watched[e->wd];
        int len = snprintf(path, sizeof path, "%s%s%s", dir, dir[0] ? "/" : "", e->name);
        if (len < 0 || (size_t)len >= sizeof path)
            continue;
        if (e->mask & IN_ISDIR) {
            /* Read once the folder being read is done (rel is its path). */
            if (sc->npending < PENDING && (e->mask & (IN_CREATE | IN_MOVED_TO))) {
                char *p = strdup(path);
                if (p != NULL)
                    sc->pending[sc->npending++] = p;
            }
            continue;
        }
        int fd = fsx_open_beneath(sc->rootfd, path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
        struct stat st;
        if (fd < 0)
            continue;
        if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
            struct digest_stamp s = stamp_of(&st);
            hash_version(d, fd, (uint64_t)st.st_dev, &s, buf);
        }
        close(fd);
    }
    return true;
}

/* Starts reading the next pending folder (a path beneath the root). */
static void enter_pending(struct scan *sc)
{
    char *path = sc->pending[--sc->npending];
    char *slash = strrchr(path, '/');
    const char *name = slash != NULL ? slash + 1 : path;
    size_t plen = slash != NULL ? (size_t)(slash - path) : 0;

    if (slash != NULL)
        *slash = '\0';
    int pfd = fsx_open_beneath(sc->rootfd, plen > 0 ? path : ".", O_RDONLY | O_DIRECTORY);
    if (pfd >= 0) {
        memcpy(sc->rel, path, plen);
        sc->rel[plen] = '\0';
        enter(sc, pfd, name, plen, false);
        close(pfd);
    }
    free(path);
}

static void report(struct scan *sc, const char *what)
{
    fprintf(stderr, "ferry serve: digests, %s: %llu files, %llu hashed (%.1f MiB) in %.1f s\n",
            what, (unsigned long long)sc->files, (unsigned long long)sc->hashed,
            (double)sc->bytes / (1 << 20), (double)(clock_ms() - sc->t0) / 1000);
    sc->reported = clock_ms();
}

/* One step of the tree's upkeep: the changes inotify reported, else the
 * next entry of the first pass. False when there is nothing to do. */
static bool scan_step(struct fs_digest *d, unsigned char *buf)
{
    struct scan *sc = &d->scan;

    if (sc->rootfd < 0)
        return false;
    if (changes(d, buf))
        return true;
    if (sc->depth == 0 && sc->npending > 0)
        enter_pending(sc);
    if (sc->depth > 0) {
        walk_step(d, buf);
        if (!sc->done && sc->hashed > 0 && clock_ms() - sc->reported >= REPORT_MS)
            report(sc, "first pass");
        return true;
    }
    if (!sc->done) {
        sc->done = true;
        if (sc->hashed > 0)
            report(sc, "first pass done");
    }
    return false;
}

static void scan_open(struct scan *sc, const struct fs_digest_config *cfg)
{
    sc->ino = -1;
    sc->rootfd = cfg->rootfd >= 0 ? fcntl(cfg->rootfd, F_DUPFD_CLOEXEC, 0) : -1;
    sc->hidden = cfg->hidden;
    if (sc->rootfd < 0)
        return;
    sc->ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    sc->t0 = sc->reported = clock_ms();
    enter(sc, sc->rootfd, ".", 0, true);
}

static void scan_close(struct scan *sc)
{
    while (sc->depth > 0)
        closedir(sc->stack[--sc->depth]);
    while (sc->npending > 0)
        free(sc->pending[--sc->npending]);
    for (size_t i = 0; i < sc->nwatched; i++)
        free(sc->watched[i]);
    free(sc->watched);
    if (sc->ino >= 0)
        close(sc->ino);
    if (sc->rootfd >= 0)
        close(sc->rootfd);
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
        if (d->stopping)
            break;
        if (d->n == 0) {
            /* Files requests asked for go first; then the tree's upkeep. */
            pthread_mutex_unlock(&d->mu);
            bool busy = buf != NULL && scan_step(d, buf);
            pthread_mutex_lock(&d->mu);
            if (!busy && !d->stopping && d->n == 0) {
                struct timespec until;
                clock_gettime(CLOCK_MONOTONIC, &until);
                until.tv_nsec += IDLE_MS * 1000000L;
                until.tv_sec += until.tv_nsec / 1000000000L;
                until.tv_nsec %= 1000000000L;
                pthread_cond_timedwait(&d->cv, &d->mu, &until);
            }
            continue;
        }
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

int fs_digest_start(const struct fs_digest_config *cfg, struct fs_digest **out)
{
    struct fs_digest *d = calloc(1, sizeof *d);
    pthread_condattr_t ca;

    if (d == NULL)
        return -ENOMEM;
    d->rate_mib = cfg->rate_mib;
    pthread_mutex_init(&d->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&d->cv, &ca);
    pthread_condattr_destroy(&ca);
    scan_open(&d->scan, cfg);
    int rc = pthread_create(&d->thread, NULL, digest_thread, d);
    if (rc != 0) {
        scan_close(&d->scan);
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
    scan_close(&d->scan);
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

    if (d == NULL)
        return false;
    if (lookup(d, fd, dev, &want, out))
        return true;
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
