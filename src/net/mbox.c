#include "net/mbox.h"

#include <errno.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>

static void mbox_io(struct ev_loop *loop, struct ev_io *io, uint32_t events)
{
    struct mbox *m = container_of(io, struct mbox, io);
    uint64_t n;

    (void)loop;
    (void)events;
    if (read(m->efd, &n, sizeof n) < 0) {
        /* EAGAIN: a wakeup already taken; the owner's list says what is there. */
    }
    m->cb(m);
}

int mbox_open(struct mbox *m, struct ev_loop *loop, mbox_cb cb)
{
    m->cb = cb;
    m->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (m->efd < 0)
        return -errno;
    int rc = ev_io_start(loop, &m->io, m->efd, EPOLLIN, mbox_io);
    if (rc < 0) {
        close(m->efd);
        m->efd = -1;
    }
    return rc;
}

void mbox_close(struct mbox *m)
{
    if (m->efd >= 0)
        close(m->efd);
    m->efd = -1;
}

void mbox_post(struct mbox *m)
{
    uint64_t one = 1;

    if (write(m->efd, &one, sizeof one) < 0) {
        /* EAGAIN: the counter is full, so a wakeup is pending anyway */
    }
}
