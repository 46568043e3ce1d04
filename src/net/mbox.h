/* mbox: how other threads wake one event loop. An eventfd watched on the
 * loop: a thread that has left something for the loop's owner (a list it
 * keeps under its own mutex) posts; the callback runs on the loop once for
 * one or more posts, and takes what is there. Used by the file server's
 * password checks (fs_auth) and file digests (fs_digest). */
#ifndef FERRY_NET_MBOX_H
#define FERRY_NET_MBOX_H

#include "net/ev.h"

struct mbox;
typedef void (*mbox_cb)(struct mbox *m);

struct mbox {
    struct ev_io io;
    int efd;
    mbox_cb cb;
};

/* Opens m's eventfd and watches it on loop (on the loop's thread). 0 or
 * -errno (m is then unusable). */
int mbox_open(struct mbox *m, struct ev_loop *loop, mbox_cb cb);
/* Closes the eventfd (the loop has stopped, or no longer watches it). */
void mbox_close(struct mbox *m);
/* Wakes the loop: any thread, any number of times. */
void mbox_post(struct mbox *m);

#endif
