/* ev: a small epoll event loop, one per thread.
 *
 * A watcher (struct ev_io) is embedded in its owner; the callback gets the
 * watcher back and finds its owner with container_of. Watchers are level
 * triggered. After each batch of events the loop calls its tick callback,
 * where owners run timers and flush output; the loop wakes at least every
 * tick_ms so deadlines are checked without a timer per connection. */
#ifndef FERRY_NET_EV_H
#define FERRY_NET_EV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/epoll.h>

#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

struct ev_loop;
struct ev_io;

typedef void (*ev_io_cb)(struct ev_loop *loop, struct ev_io *io, uint32_t events);
typedef void (*ev_tick_cb)(struct ev_loop *loop);

struct ev_io {
    int fd;
    uint32_t events; /* what epoll watches now; 0 when not registered */
    ev_io_cb cb;
};

struct ev_loop {
    int epfd;
    bool stop;
    int tick_ms;
    int64_t now; /* clock_ms() at the last wakeup */
    ev_tick_cb tick_cb;
    void *data; /* the owner's */
    /* ev_run's current batch, so ev_io_stop can cancel events fetched for
     * a watcher that a callback earlier in the batch stopped */
    struct epoll_event *batch;
    int batch_next, batch_len;
};

/* Creates the epoll instance. Returns 0 or -errno. */
int ev_loop_init(struct ev_loop *loop, int tick_ms, ev_tick_cb tick_cb, void *data);
void ev_loop_close(struct ev_loop *loop);

/* Registers fd for events (EPOLLIN, EPOLLOUT, EPOLLEXCLUSIVE...). 0 or -errno. */
int ev_io_start(struct ev_loop *loop, struct ev_io *io, int fd, uint32_t events, ev_io_cb cb);

/* Changes the watched events when they differ. events 0 is -EINVAL (0
 * means not registered: use ev_io_stop; EPOLLERR alone watches errors
 * only). 0 or -errno. */
int ev_io_set(struct ev_loop *loop, struct ev_io *io, uint32_t events);

/* Deregisters the watcher; the fd stays open. From then on its callback is
 * not called, not even for an event of the batch being delivered, so a
 * callback may stop (and free) other watchers. 0 or -errno. */
int ev_io_stop(struct ev_loop *loop, struct ev_io *io);

/* Runs until ev_loop->stop is set. Returns 0 or -errno from epoll_wait. */
int ev_run(struct ev_loop *loop);

#endif
