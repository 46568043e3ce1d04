/* Hashing a file beside its send. See fs_follow.h. One mutex guards the
 * queue, the count of jobs out and the ports' lists of jobs handed back;
 * it is never held while a file is read. A job belongs to the thread from
 * fs_follow_begin until it is on its port's list, then to the loop: only
 * the loop frees it, once it is back and released. */
#include "serve/fs_follow.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/hash.h"
#include "net/mbox.h"
#include "serve/fs.h"

/* The thread reads this much at a time: a buffer the hashing then finds
 * in the cache (as FS_RW_BUF). */
#define STEP (256u << 10)

struct fs_follow_job {
    struct fs_follow_job *next;  /* in the queue or a port's list (under mu) */
    struct fs_follow_port *port; /* where it goes back */
    struct conn *c;              /* the loop's: NULL once released */
    int fd;                      /* a duplicate, closed by the thread */
    uint64_t size;
    atomic_bool cancel; /* released: the thread stops */
    bool back;          /* the loop's: handed back, rc and sha final */
    bool waiting;       /* the loop's: c waits for it */
    int rc;             /* the thread's until back */
    unsigned char sha[DIGEST_SHA256_LEN];
};

struct fs_follow_port {
    struct mbox mb;
    struct fs_follow *f;
    struct fs_follow_job *done; /* handed back, not yet taken (under mu) */
};

struct fs_follow {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stopping;    /* under mu; also read by the threads between steps */
    atomic_bool stop; /* the same, for a thread reading a file */
    struct fs_follow_job *queue, *tail;
    unsigned out; /* jobs queued or running */
    unsigned nthreads;
    pthread_t threads[FS_FOLLOW_THREADS];
};

/* Hashes j's file. Sets j->rc and j->sha. */
static void hash_job(struct fs_follow *f, struct fs_follow_job *j, unsigned char *buf)
{
    struct hash *h = hash_new();
    uint64_t off = 0;

    j->rc = h == NULL ? -ENOMEM : 0;
    /* The send reads the same file just behind us: a long read-ahead. */
    if (h != NULL && posix_fadvise(j->fd, 0, (off_t)j->size, POSIX_FADV_SEQUENTIAL) != 0) {
        /* advice only */
    }
    while (j->rc == 0 && off < j->size) {
        if (atomic_load(&j->cancel) || atomic_load(&f->stop)) {
            j->rc = -ECANCELED;
            break;
        }
        size_t want = j->size - off < STEP ? (size_t)(j->size - off) : STEP;
        ssize_t n = pread(j->fd, buf, want, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            j->rc = n < 0 ? -errno : -EIO; /* the file is shorter than promised */
            break;
        }
        hash_update(h, buf, (size_t)n);
        off += (uint64_t)n;
    }
    if (j->rc == 0)
        hash_final(h, j->sha);
    else
        hash_free(h);
    close(j->fd);
    j->fd = -1;
}

static void *follow_thread(void *arg)
{
    struct fs_follow *f = arg;
    unsigned char *buf = malloc(STEP);

    pthread_mutex_lock(&f->mu);
    for (;;) {
        while (!f->stopping && f->queue == NULL)
            pthread_cond_wait(&f->cv, &f->mu);
        if (f->stopping)
            break;
        struct fs_follow_job *j = f->queue;
        f->queue = j->next;
        if (f->queue == NULL)
            f->tail = NULL;
        pthread_mutex_unlock(&f->mu);
        if (buf != NULL) {
            hash_job(f, j, buf);
        } else {
            j->rc = -ENOMEM;
            close(j->fd);
            j->fd = -1;
        }
        pthread_mutex_lock(&f->mu);
        f->out--;
        j->next = j->port->done;
        j->port->done = j;
        mbox_post(&j->port->mb); /* under mu: the loop cannot free j before */
    }
    pthread_mutex_unlock(&f->mu);
    free(buf);
    return NULL;
}

int fs_follow_start(unsigned nthreads, struct fs_follow **out)
{
    struct fs_follow *f = calloc(1, sizeof *f);

    if (f == NULL)
        return -ENOMEM;
    if (nthreads < 1 || nthreads > FS_FOLLOW_THREADS)
        nthreads = FS_FOLLOW_THREADS;
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cv, NULL);
    for (; f->nthreads < nthreads; f->nthreads++) {
        int rc = pthread_create(&f->threads[f->nthreads], NULL, follow_thread, f);
        if (rc != 0) {
            fs_follow_stop(f);
            return -rc;
        }
    }
    *out = f;
    return 0;
}

void fs_follow_stop(struct fs_follow *f)
{
    if (f == NULL)
        return;
    pthread_mutex_lock(&f->mu);
    f->stopping = true;
    atomic_store(&f->stop, true);
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
    for (unsigned i = 0; i < f->nthreads; i++)
        pthread_join(f->threads[i], NULL);
    /* Queued, never hashed: back to their ports, which free them. */
    while (f->queue != NULL) {
        struct fs_follow_job *j = f->queue;
        f->queue = j->next;
        close(j->fd);
        j->fd = -1;
        j->rc = -ECANCELED;
        j->next = j->port->done;
        j->port->done = j;
    }
    pthread_cond_destroy(&f->cv);
    pthread_mutex_destroy(&f->mu);
    free(f);
}

/* ---- on the loop ------------------------------------------------------------- */

static void port_cb(struct mbox *m)
{
    struct fs_follow_port *p = container_of(m, struct fs_follow_port, mb);

    pthread_mutex_lock(&p->f->mu);
    struct fs_follow_job *j = p->done;
    p->done = NULL;
    pthread_mutex_unlock(&p->f->mu);
    while (j != NULL) {
        struct fs_follow_job *next = j->next;
        j->back = true;
        if (j->c == NULL)
            free(j); /* its connection has let go */
        else if (j->waiting)
            fs_conn_drive(j->c); /* which may release and free j */
        j = next;
    }
}

int fs_follow_port_open(struct fs_follow *f, struct worker *w)
{
    struct fs_follow_port *p = calloc(1, sizeof *p);

    if (p == NULL)
        return -ENOMEM;
    p->f = f;
    int rc = mbox_open(&p->mb, w->loop, port_cb);
    if (rc < 0) {
        free(p);
        return rc;
    }
    w->follow_port = p;
    return 0;
}

void fs_follow_port_close(struct worker *w)
{
    struct fs_follow_port *p = w->follow_port;

    if (p == NULL)
        return;
    w->follow_port = NULL;
    while (p->done != NULL) { /* the connections are gone: all released */
        struct fs_follow_job *j = p->done;
        p->done = j->next;
        free(j);
    }
    mbox_close(&p->mb);
    free(p);
}

struct fs_follow_job *fs_follow_begin(struct conn *c, int fd, uint64_t size)
{
    struct fs_follow *f = c->w->srv->follow;
    struct fs_follow_port *p = c->w->follow_port;

    if (f == NULL || p == NULL)
        return NULL;
    struct fs_follow_job *j = calloc(1, sizeof *j);
    if (j == NULL)
        return NULL;
    j->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (j->fd < 0) {
        free(j);
        return NULL;
    }
    j->port = p;
    j->c = c;
    j->size = size;
    pthread_mutex_lock(&f->mu);
    bool room = !f->stopping && f->out < f->nthreads;
    if (room) {
        f->out++;
        if (f->tail != NULL)
            f->tail->next = j;
        else
            f->queue = j;
        f->tail = j;
        pthread_cond_signal(&f->cv);
    }
    pthread_mutex_unlock(&f->mu);
    if (!room) {
        close(j->fd);
        free(j);
        return NULL;
    }
    return j;
}

int fs_follow_result(struct fs_follow_job *j, unsigned char sha[DIGEST_SHA256_LEN])
{
    if (!j->back) {
        j->waiting = true;
        return -EAGAIN;
    }
    if (j->rc == 0)
        memcpy(sha, j->sha, DIGEST_SHA256_LEN);
    return j->rc;
}

void fs_follow_release(struct fs_follow_job **jp)
{
    struct fs_follow_job *j = *jp;

    if (j == NULL)
        return;
    *jp = NULL;
    j->c = NULL;
    j->waiting = false;
    atomic_store(&j->cancel, true);
    if (j->back)
        free(j);
}
