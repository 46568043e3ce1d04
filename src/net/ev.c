#include "net/ev.h"

#include <errno.h>
#include <unistd.h>

#include "core/clock.h"

#define EV_BATCH 256

int ev_loop_init(struct ev_loop *loop, int tick_ms, ev_tick_cb tick_cb, void *data)
{
    loop->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (loop->epfd < 0)
        return -errno;
    loop->stop = false;
    loop->tick_ms = tick_ms;
    loop->now = clock_ms();
    loop->tick_cb = tick_cb;
    loop->data = data;
    loop->batch = NULL;
    loop->batch_next = loop->batch_len = 0;
    return 0;
}

void ev_loop_close(struct ev_loop *loop)
{
    if (loop->epfd >= 0)
        close(loop->epfd);
    loop->epfd = -1;
}

int ev_io_start(struct ev_loop *loop, struct ev_io *io, int fd, uint32_t events, ev_io_cb cb)
{
    struct epoll_event ev = {.events = events, .data.ptr = io};

    io->fd = fd;
    io->cb = cb;
    if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        io->events = 0;
        return -errno;
    }
    io->events = events;
    return 0;
}

int ev_io_set(struct ev_loop *loop, struct ev_io *io, uint32_t events)
{
    if (io->events == events)
        return 0;
    if (events == 0)
        return -EINVAL;
    struct epoll_event ev = {.events = events, .data.ptr = io};
    if (epoll_ctl(loop->epfd, EPOLL_CTL_MOD, io->fd, &ev) < 0)
        return -errno;
    io->events = events;
    return 0;
}

int ev_io_stop(struct ev_loop *loop, struct ev_io *io)
{
    if (io->events == 0)
        return 0;
    io->events = 0;
    /* An event already fetched for io must not reach it. */
    for (int i = loop->batch_next; i < loop->batch_len; i++)
        if (loop->batch[i].data.ptr == io)
            loop->batch[i].data.ptr = NULL;
    if (epoll_ctl(loop->epfd, EPOLL_CTL_DEL, io->fd, NULL) < 0)
        return -errno;
    return 0;
}

int ev_run(struct ev_loop *loop)
{
    struct epoll_event evs[EV_BATCH];

    while (!loop->stop) {
        int n = epoll_wait(loop->epfd, evs, EV_BATCH, loop->tick_ms);
        if (n < 0 && errno != EINTR)
            return -errno;
        loop->now = clock_ms();
        loop->batch = evs;
        loop->batch_len = n > 0 ? n : 0;
        for (loop->batch_next = 0; loop->batch_next < loop->batch_len;) {
            struct epoll_event *e = &evs[loop->batch_next++];
            struct ev_io *io = e->data.ptr;
            if (io != NULL) /* NULL: stopped by an earlier callback */
                io->cb(loop, io, e->events);
        }
        loop->batch = NULL;
        loop->batch_next = loop->batch_len = 0;
        if (loop->tick_cb)
            loop->tick_cb(loop);
    }
    return 0;
}
