/* rds: one hiredis async connection driven by ferry's own event loop.
 *
 * hiredis (0.14, async.h) asks for read and write interest through its
 * ev.addRead/delRead/addWrite/delWrite hooks; rds turns them into one
 * ev_io on the context's socket and calls redisAsyncHandleRead/Write when
 * epoll says so. Nothing blocks: the connect is non-blocking to a numeric
 * address (resolve names before the loop runs), replies arrive in the
 * callbacks given to rds_command.
 *
 * hiredis has no timeouts, so the owner calls rds_tick from its loop's
 * tick: a connect that has not finished within timeout_ms, or a connection
 * that owes replies (or has output queued) and has read nothing from Redis
 * for timeout_ms since the first of them was sent (or since the last
 * read), is closed with -ETIMEDOUT. Only reading is progress: a socket
 * that takes more commands does not postpone the deadline.
 *
 * Each connection's hiredis hooks point at a small record of its own, not
 * at struct rds, so a context hiredis frees late (rds_close from inside one
 * of its callbacks) never touches the rds or a newer connection. */
#ifndef FERRY_NET_RDS_H
#define FERRY_NET_RDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hiredis/async.h>

#include "net/ev.h"

struct rds;
struct rds_link;

/* The connection is up (connected; commands may be sent). */
typedef void (*rds_up_cb)(struct rds *r);
/* The connection ended on its own (refused, reset, closed by Redis, timed
 * out): err is -errno. Never called for rds_close. Called outside hiredis
 * callbacks, so it may close and reconnect r or other connections. */
typedef void (*rds_down_cb)(struct rds *r, int err);

enum rds_state { RDS_OFF, RDS_CONNECTING, RDS_UP };

struct rds {
    struct ev_loop *loop;
    struct rds_link *link; /* the current connection, NULL when off */
    enum rds_state state;
    int timeout_ms;
    int64_t progress_at; /* connect start, first command owed, or last read */
    rds_up_cb on_up;
    rds_down_cb on_down;
    void *data;    /* the owner's */
    char why[128]; /* hiredis's text for the last failure */
    /* rds's own: what happened inside hiredis, reported once it returns */
    bool up_pending;
    int down_err;
};

/* Sets up r, not connected. */
void rds_init(struct rds *r, struct ev_loop *loop, int timeout_ms, rds_up_cb on_up,
              rds_down_cb on_down, void *data);

/* Starts connecting to ip (numeric, v4 or v6) and port. Returns 0 (on_up
 * or on_down follows), or -errno when it failed at once (r->why says how).
 * r must be off. */
int rds_connect(struct rds *r, const char *ip, uint16_t port);

/* Queues a command (argv strings with their lengths). fn (may be NULL) gets
 * the reply, or a NULL reply when the connection ends first; ac->data is
 * not the caller's. Returns 0, -ENOTCONN when r is not up, -ENOMEM. */
int rds_command(struct rds *r, redisCallbackFn *fn, void *priv, int argc, const char **argv,
                const size_t *lens);

/* Bytes queued for Redis and not yet written. */
size_t rds_backlog(const struct rds *r);

/* Writes what the socket takes now, without waiting (before a close). */
void rds_flush(struct rds *r);

/* Checks the deadlines; call from the loop's tick. */
void rds_tick(struct rds *r);

/* Closes the connection; pending callbacks get NULL replies. on_down is
 * not called. r is off afterwards and may connect again. */
void rds_close(struct rds *r);

static inline bool rds_up(const struct rds *r)
{
    return r->state == RDS_UP;
}

#endif
