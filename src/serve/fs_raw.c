/* The raw file protocol: the name that fs_conn.c's probe collected in
 * c->in becomes the file's bytes and a close, or an empty reply. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "serve/fs.h"
#include "serve/fs_auth.h"
#include "core/charset.h"
#include "core/fsx.h"
#include "proto/path.h"
#include "proto/raw.h"

/* Opens the regular file the name names, or returns -1. */
static int open_name(struct conn *c, const char *name, long len, struct stat *st)
{
    struct fs_server *s = c->w->srv;
    char rel[PATH_MAX_LEN + 16];
    unsigned flags = 0;

    if (len <= 0 || path_normalise(name, (size_t)len, rel, PATH_MAX_LEN, &flags) <= 0 ||
        ((flags & PATH_HIDDEN) && !s->opt.hidden) || (flags & PATH_RESERVED) ||
        !fs_auth_may(s, NULL, rel, NULL, AUTH_READ))
        return -1; /* no credentials here: what "*" may read, with --auth */
    int fd = fsx_open_beneath(s->rootfd, rel, O_RDONLY | O_NONBLOCK | O_NOCTTY);
    if (fd >= 0 && (fstat(fd, st) < 0 || !S_ISREG(st->st_mode) ||
                    !fs_auth_may_fd(s, NULL, rel, fd, AUTH_READ))) {
        close(fd);
        fd = -1;
    }
    return fd;
}

void fs_raw_serve(struct conn *c)
{
    const char *name = c->in ? buf_rptr(c->in) : "";
    size_t avail = c->in ? buf_len(c->in) : 0, end = 0;
    char utf8[RAW_MAX_NAME * 2 + 1];
    struct stat st;

    if (c->tls == NULL && c->w->srv->opt.tls_only) {
        /* --tls-only: a plain raw peer gets nothing, not even the empty reply. */
        fs_in_put(c->w, &c->in);
        fs_conn_set_state(c, CS_CLOSE);
        return;
    }
    /* The name ends at its terminator, or is everything the peer sent
     * before it went quiet or shut down its side. */
    long len = raw_name_scan(name, avail, &end) == RAW_NAME_DONE ? (end > 0 ? (long)end : -EINVAL)
                                                                  : raw_name_len(name, avail);
    if (len > 0 && !utf8_valid(name, (size_t)len)) {
        /* The classic clients send GBK; GB18030 decodes all of it. */
        long n = gb18030_to_utf8(name, (size_t)len, utf8, sizeof utf8);
        if (n > 0) {
            name = utf8;
            len = n;
        } else {
            len = -EILSEQ;
        }
    }
    struct xchg *x = fs_conn_begin(c);
    int fd = x != NULL ? open_name(c, name, len, &st) : -1;
    if (x != NULL) {
        x->raw = true;
        memcpy(x->method, "RAW", 3);
        x->method_len = 3;
        size_t tl = len > 0 ? (size_t)len : 1;
        if (tl > sizeof x->target)
            tl = sizeof x->target;
        memcpy(x->target, len > 0 ? name : "-", tl);
        x->target_len = (uint16_t)tl;
        x->status = fd >= 0 ? 200 : len > 0 ? 404 : 400;
    }
    fs_in_put(c->w, &c->in); /* nothing after the name is read */
    if (fd < 0) {
        /* The empty reply: "no such file". */
        fs_log_exchange(c);
        fs_xchg_put(c->w, &c->x);
        fs_conn_linger(c);
        return;
    }
    x->src.fd = fd;
    x->src.off = 0;
    x->src.end = st.st_size;
    x->keep = false;
    fs_conn_set_state(c, CS_SEND);
}
