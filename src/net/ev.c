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
        for (int i = 0; i < n; i++) {
            struct ev_io *io = evs[i].data.ptr;
            io->cb(loop, io, evs[i].events);
        }
        if (loop->tick_cb)
            loop->tick_cb(loop);
    }
    return 0;
}
