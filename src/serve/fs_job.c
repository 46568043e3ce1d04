/* fs_job: work that would hold up a worker's loop (a tree copied, a file
 * flushed to the disk) done on a thread of its own, while the connection
 * that asked waits in CS_JOB, off its socket, and the worker serves its
 * other connections.
 *
 * A job is three functions and their argument: work runs on the thread;
 * answer runs back on the loop with the connection (it answers, so the
 * connection leaves CS_JOB), then free. The thread posts an mbox when the
 * work is done, and the loop takes the job back. A connection that closes
 * meanwhile detaches (fs_job_cancel): the thread then finishes the work
 * and calls free itself, so free must not touch the loop or the
 * connection. A stopping server raises the registry's stop flag, which
 * long work reads (fs_jobs_stopping), and waits for the running threads
 * (fs_jobs_free), so none outlives the server. One thread per job. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "net/mbox.h"
#include "serve/fs.h"

/* The server's job threads: how many run, and whether they must stop. */
struct fs_jobs {
    pthread_mutex_t mu;
    pthread_cond_t idle; /* running reached 0 */
    unsigned running;    /* under mu */
    atomic_bool stop;
};

/* One job under way. */
struct fs_job {
    struct mbox mb;
    pthread_mutex_t mu;
    bool done, detached; /* under mu */
    struct conn *c;
    struct fs_jobs *jobs;
    const struct fs_job_ops *ops;
    void *arg;
    unsigned *count; /* the loop's count of such jobs; NULL: not counted */
};

static void job_free(struct fs_job *j)
{
    j->ops->free(j->arg);
    pthread_mutex_destroy(&j->mu);
    free(j);
}

static void *job_main(void *arg)
{
    struct fs_job *j = arg;
    struct fs_jobs *jobs = j->jobs;

    j->ops->work(j->arg);
    pthread_mutex_lock(&j->mu);
    j->done = true;
    bool detached = j->detached;
    if (!detached)
        mbox_post(&j->mb); /* under mu: the loop frees j only after taking it */
    pthread_mutex_unlock(&j->mu);
    if (detached)
        job_free(j);
    pthread_mutex_lock(&jobs->mu);
    if (--jobs->running == 0)
        pthread_cond_signal(&jobs->idle);
    pthread_mutex_unlock(&jobs->mu);
    return NULL;
}

struct fs_jobs *fs_jobs_new(void)
{
    struct fs_jobs *j = calloc(1, sizeof *j);

    if (j == NULL)
        return NULL;
    pthread_mutex_init(&j->mu, NULL);
    pthread_cond_init(&j->idle, NULL);
    atomic_init(&j->stop, false);
    return j;
}

void fs_jobs_free(struct fs_jobs *j)
{
    if (j == NULL)
        return;
    atomic_store(&j->stop, true);
    pthread_mutex_lock(&j->mu);
    while (j->running > 0)
        pthread_cond_wait(&j->idle, &j->mu); /* long work stops at its next step */
    pthread_mutex_unlock(&j->mu);
    pthread_cond_destroy(&j->idle);
    pthread_mutex_destroy(&j->mu);
    free(j);
}

bool fs_jobs_stopping(struct fs_jobs *j)
{
    return j != NULL && atomic_load(&j->stop);
}

/* Lets go of the job's mbox and count, on the loop. */
static void job_unhook(struct fs_job *j)
{
    ev_io_stop(j->c->w->loop, &j->mb.io);
    mbox_close(&j->mb);
    j->c->job_work = NULL;
    if (j->count != NULL)
        (*j->count)--;
}

/* On the loop: the thread is done. */
static void job_back(struct mbox *m)
{
    struct fs_job *j = container_of(m, struct fs_job, mb);
    struct conn *c = j->c;

    pthread_mutex_lock(&j->mu);
    bool done = j->done;
    pthread_mutex_unlock(&j->mu);
    if (!done)
        return; /* not ours to take yet */
    job_unhook(j);
    if (c->io.events == 0 && ev_io_start(c->w->loop, &c->io, c->io.fd, EPOLLIN, fs_conn_io) < 0) {
        job_free(j);
        fs_conn_abort(c);
        return;
    }
    j->ops->answer(c, j->arg);
    job_free(j);
    c->sc.deadline = c->w->loop->now + c->w->srv->opt.send_timeout_ms;
    fs_conn_drive(c);
}

void fs_job_cancel(struct conn *c)
{
    struct fs_job *j = c->job_work;

    if (j == NULL)
        return;
    job_unhook(j);
    pthread_mutex_lock(&j->mu);
    j->detached = true;
    bool done = j->done;
    pthread_mutex_unlock(&j->mu);
    if (done)
        job_free(j); /* the thread has let go of it */
}

int fs_job_start(struct conn *c, const struct fs_job_ops *ops, void *arg, unsigned *count)
{
    struct fs_jobs *jobs = c->w->srv->jobs;
    pthread_attr_t attr;
    pthread_t tid;

    if (jobs == NULL || atomic_load(&jobs->stop))
        return -ECANCELED;
    struct fs_job *j = calloc(1, sizeof *j);
    if (j == NULL)
        return -ENOMEM;
    j->c = c;
    j->jobs = jobs;
    j->ops = ops;
    j->arg = arg;
    j->count = count;
    pthread_mutex_init(&j->mu, NULL);
    int rc = mbox_open(&j->mb, c->w->loop, job_back);
    if (rc < 0)
        goto fail;
    rc = -pthread_attr_init(&attr);
    if (rc < 0)
        goto fail_mbox;
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_mutex_lock(&jobs->mu);
    jobs->running++; /* before the thread can end and count itself out */
    pthread_mutex_unlock(&jobs->mu);
    rc = -pthread_create(&tid, &attr, job_main, j);
    pthread_attr_destroy(&attr);
    if (rc < 0) {
        pthread_mutex_lock(&jobs->mu);
        jobs->running--;
        pthread_mutex_unlock(&jobs->mu);
        goto fail_mbox;
    }
    c->job_work = j;
    if (count != NULL)
        (*count)++;
    fs_conn_set_state(c, CS_JOB);
    ev_io_stop(c->w->loop, &c->io); /* level-triggered input would spin meanwhile */
    c->sc.deadline = c->w->loop->now + c->w->srv->opt.send_timeout_ms;
    return 0;

fail_mbox:
    ev_io_stop(c->w->loop, &j->mb.io);
    mbox_close(&j->mb);
fail:
    pthread_mutex_destroy(&j->mu);
    free(j);
    return rc;
}
