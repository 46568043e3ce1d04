#include "net/rds.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One hiredis context and its watcher. hiredis's hooks and callbacks get
 * this record; r is NULL once rds has let go of it (rds_close), after
 * which only hiredis's own clean-up may still reach it. */
struct rds_link {
    struct rds *r;
    struct ev_loop *loop;
    redisAsyncContext *ac;
    struct ev_io io;
    bool reading, writing;
};

static void on_io(struct ev_loop *loop, struct ev_io *io, uint32_t events);

/* Makes epoll watch what hiredis asked for, on the one watcher. A failure
 * (out of memory in epoll) leaves the connection stalled, which the
 * progress deadline then ends. */
static void link_update(struct rds_link *l)
{
    uint32_t want = (l->reading ? EPOLLIN : 0) | (l->writing ? EPOLLOUT : 0);

    if (want == 0)
        ev_io_stop(l->loop, &l->io);
    else if (l->io.events == 0)
        ev_io_start(l->loop, &l->io, l->ac->c.fd, want, on_io);
    else
        ev_io_set(l->loop, &l->io, want);
}

static void hook_add_read(void *priv)
{
    struct rds_link *l = priv;
    l->reading = true;
    link_update(l);
}

static void hook_del_read(void *priv)
{
    struct rds_link *l = priv;
    l->reading = false;
    link_update(l);
}

static void hook_add_write(void *priv)
{
    struct rds_link *l = priv;
    l->writing = true;
    link_update(l);
}

static void hook_del_write(void *priv)
{
    struct rds_link *l = priv;
    l->writing = false;
    link_update(l);
}

static int hiredis_err(int err)
{
    switch (err) {
    case REDIS_ERR_EOF:
        return -ECONNRESET;
    case REDIS_ERR_PROTOCOL:
        return -EPROTO;
    case REDIS_ERR_OOM:
        return -ENOMEM;
    default:
        return -EIO;
    }
}

/* hiredis is about to free the context: stop watching, and if rds still
 * holds it (hiredis itself gave up: an error, the peer closed, a failed
 * connect), note the loss for dispatch once hiredis returns. The hooks are
 * cleared so that no later call reaches the freed record. */
static void hook_cleanup(void *priv)
{
    struct rds_link *l = priv;
    redisAsyncContext *ac = l->ac;

    l->reading = l->writing = false;
    ev_io_stop(l->loop, &l->io);
    ac->ev.addRead = ac->ev.delRead = ac->ev.addWrite = ac->ev.delWrite = NULL;
    ac->ev.cleanup = NULL;
    ac->ev.data = NULL;
    ac->data = NULL;
    if (l->r != NULL) {
        struct rds *r = l->r;
        snprintf(r->why, sizeof r->why, "%s",
                 ac->errstr != NULL && ac->errstr[0] ? ac->errstr : "connection closed");
        r->down_err = ac->err != 0 ? hiredis_err(ac->err) : -ECONNRESET;
        r->link = NULL;
        r->state = RDS_OFF;
    }
    free(l);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    struct rds_link *l = ac->data;

    if (l == NULL || l->r == NULL || status != REDIS_OK)
        return; /* a failed connect is reported by hook_cleanup */
    redisEnableKeepAlive((redisContext *)&ac->c);
    l->r->state = RDS_UP;
    l->r->up_pending = true;
}

/* Runs the owner's callbacks for what happened inside hiredis. */
static void dispatch(struct rds *r)
{
    if (r->up_pending) {
        r->up_pending = false;
        if (r->state == RDS_UP && r->on_up != NULL)
            r->on_up(r);
    }
    if (r->down_err != 0) {
        int err = r->down_err;
        r->down_err = 0;
        if (r->on_down != NULL)
            r->on_down(r, err);
    }
}

/* True while Redis owes r something: the connect, answers, or the
 * reading of commands still queued here. */
static bool rds_owed(const struct rds *r)
{
    const redisAsyncContext *ac = r->link->ac;

    return r->state == RDS_CONNECTING || ac->replies.head != NULL || sdslen(ac->c.obuf) > 0;
}

static void on_io(struct ev_loop *loop, struct ev_io *io, uint32_t events)
{
    struct rds_link *l = container_of(io, struct rds_link, io);
    struct rds *r = l->r;

    if (r == NULL)
        return; /* let go of; hiredis is freeing it */
    redisAsyncContext *ac = l->ac;
    bool rd = (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && l->reading;
    bool wr = (events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) && l->writing;
    /* Only what Redis sends is progress: a socket that takes our commands
     * says nothing about whether their answers will ever come. */
    if (rd)
        r->progress_at = loop->now;
    if (rd)
        redisAsyncHandleRead(ac);
    /* The read may have ended the connection (and freed l). */
    if (wr && r->link == l)
        redisAsyncHandleWrite(ac);
    dispatch(r);
}

void rds_init(struct rds *r, struct ev_loop *loop, int timeout_ms, rds_up_cb on_up,
              rds_down_cb on_down, void *data)
{
    memset(r, 0, sizeof *r);
    r->loop = loop;
    r->timeout_ms = timeout_ms;
    r->on_up = on_up;
    r->on_down = on_down;
    r->data = data;
}

int rds_connect(struct rds *r, const char *ip, uint16_t port)
{
    if (r->link != NULL)
        return -EISCONN;
    redisAsyncContext *ac = redisAsyncConnect(ip, port);
    if (ac == NULL) {
        snprintf(r->why, sizeof r->why, "out of memory");
        return -ENOMEM;
    }
    if (ac->err != 0) {
        int err = hiredis_err(ac->err);
        snprintf(r->why, sizeof r->why, "%s", ac->errstr);
        redisAsyncFree(ac);
        return err;
    }
    struct rds_link *l = calloc(1, sizeof *l);
    if (l == NULL) {
        redisAsyncFree(ac);
        snprintf(r->why, sizeof r->why, "out of memory");
        return -ENOMEM;
    }
    l->r = r;
    l->loop = r->loop;
    l->ac = ac;
    ac->data = l;
    ac->ev.data = l;
    ac->ev.addRead = hook_add_read;
    ac->ev.delRead = hook_del_read;
    ac->ev.addWrite = hook_add_write;
    ac->ev.delWrite = hook_del_write;
    ac->ev.cleanup = hook_cleanup;
    r->link = l;
    r->state = RDS_CONNECTING;
    r->progress_at = r->loop->now;
    r->why[0] = '\0';
    redisAsyncSetConnectCallback(ac, on_connect);
    /* The connect completes on the first write event. */
    hook_add_write(l);
    return 0;
}

int rds_command(struct rds *r, redisCallbackFn *fn, void *priv, int argc, const char **argv,
                const size_t *lens)
{
    if (r->state != RDS_UP || r->link == NULL)
        return -ENOTCONN;
    /* The first command owed an answer starts the wait for it. */
    if (!rds_owed(r))
        r->progress_at = r->loop->now;
    if (redisAsyncCommandArgv(r->link->ac, fn, priv, argc, argv, lens) != REDIS_OK)
        return -ENOMEM;
    return 0;
}

size_t rds_backlog(const struct rds *r)
{
    return r->link != NULL ? sdslen(r->link->ac->c.obuf) : 0;
}

void rds_flush(struct rds *r)
{
    if (r->state == RDS_UP && r->link != NULL && rds_backlog(r) > 0)
        redisAsyncHandleWrite(r->link->ac);
}

void rds_tick(struct rds *r)
{
    if (r->link == NULL)
        return;
    int64_t now = r->loop->now;
    if (!rds_owed(r)) {
        r->progress_at = now; /* idle time is not a stall */
        return;
    }
    if (now - r->progress_at < r->timeout_ms)
        return;
    snprintf(r->why, sizeof r->why, "%s for %d ms",
             r->state == RDS_CONNECTING ? "no connection" : "no answer", r->timeout_ms);
    rds_close(r);
    if (r->on_down != NULL)
        r->on_down(r, -ETIMEDOUT);
}

void rds_close(struct rds *r)
{
    struct rds_link *l = r->link;

    r->state = RDS_OFF;
    r->link = NULL;
    r->up_pending = false;
    r->down_err = 0;
    if (l == NULL)
        return;
    l->r = NULL;
    /* Pending callbacks run with NULL replies, now or, from inside one of
     * this context's callbacks, when it returns; then hook_cleanup frees l. */
    redisAsyncFree(l->ac);
}
