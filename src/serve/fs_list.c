/* GET /dir/: a directory's page (or its JSON listing), made while it is sent.
 *
 * The sorted entries are a snapshot shared with every other response of
 * this worker listing the same directory version in the same order
 * (serve/listing's cache); a response holds a reference to it, a cursor
 * and one bounded page (LIST_PAGE bytes) that listing_fill refills as the
 * socket takes the last. So a slow reader costs one page whatever the
 * folder's size. Each row shows the entry as it is when the row is made
 * (one that is gone by then is left out), and under --auth only what the
 * user may read. The body is chunked for HTTP/1.1 and delimited by the
 * close for HTTP/1.0. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto/path.h"
#include "serve/fs.h"
#include "serve/listing.h"

#define LIST_PAGE (32u << 10) /* page bytes made at a time */
#define LIST_CHUNK_HEAD 10    /* "%08x\r\n" */

struct fs_list {
    struct listing_cursor cur;
    bool chunked;
    bool ended; /* the last chunk is made */
    int dirfd;
    char rel[PATH_MAX_LEN + 16];
};

void fs_list_free(struct fs_list **lp)
{
    struct fs_list *l = *lp;

    if (l == NULL)
        return;
    *lp = NULL;
    listing_cursor_free(&l->cur);
    close(l->dirfd);
    free(l);
}

int fs_list_fill(struct body_src *s)
{
    struct fs_list *l = s->list;
    struct buf *b = s->page;
    size_t head = l->chunked ? LIST_CHUNK_HEAD : 0;
    struct buf win;

    b->rpos = b->wpos = 0;
    if (l->ended)
        return 0;
    if (listing_done(&l->cur)) {
        l->ended = true;
        return l->chunked ? buf_puts(b, "0\r\n\r\n") : 0;
    }
    /* The page's bytes go after the chunk's head, leaving room for its CR LF. */
    buf_init_fixed(&win, b->data + head, b->max - head - (l->chunked ? 2 : 0));
    int rc = listing_fill(&l->cur, &win);
    if (rc < 0)
        return rc;
    size_t made = buf_len(&win);
    if (made == 0)
        return -EAGAIN; /* only rows this user may not see, so far */
    if (!l->chunked) {
        buf_commit(b, made);
        return 0;
    }
    char line[32];
    snprintf(line, sizeof line, "%08x\r\n", (unsigned)made); /* made < LIST_PAGE */
    memcpy(b->data, line, LIST_CHUNK_HEAD);
    buf_commit(b, head + made);
    return buf_append(b, "\r\n", 2);
}

void fs_list_serve(struct conn *c, int dirfd, const struct listing_page *p)
{
    struct fs_server *s = c->w->srv;
    struct xchg *x = c->x;
    struct listing_snap *snap = NULL;

    int rc =
        listing_snap_get(&c->w->listings, s->rootfd, dirfd, p->rel, s->opt.hidden, p->order, &snap);
    if (rc < 0) {
        close(dirfd);
        fs_respond_page(c, rc == -EACCES ? 403 : 500, NULL, NULL,
                        rc == -EACCES ? FS_WHY_UNREADABLE : NULL);
        return;
    }
    struct fs_list *l = calloc(1, sizeof *l);
    struct buf *page = malloc(sizeof *page + LIST_PAGE);
    if (l == NULL || page == NULL || strlen(p->rel) >= sizeof l->rel) {
        free(l);
        free(page);
        listing_snap_put(&snap);
        close(dirfd);
        fs_respond_error(c, 500, NULL);
        return;
    }
    buf_init_fixed(page, page + 1, LIST_PAGE);
    l->dirfd = dirfd;
    l->chunked = x->minor >= 1;
    snprintf(l->rel, sizeof l->rel, "%s", p->rel);
    struct listing_page lp = *p;
    lp.rel = l->rel;
    rc = listing_cursor_init(&l->cur, &lp, snap, s->rootfd, dirfd);
    listing_snap_put(&snap);
    if (rc < 0) {
        free(l);
        free(page);
        close(dirfd);
        fs_respond_page(c, rc == -EACCES ? 403 : 500, NULL, NULL,
                        rc == -EACCES ? FS_WHY_UNREADABLE : NULL);
        return;
    }
    if (!l->chunked)
        x->body.keep_alive = false; /* HTTP/1.0: the close ends the body */
    /* One URL, two forms (the page, the JSON listing): caches keep them apart. */
    struct reply r = {.status = 200,
                      .type = p->json ? "application/json" : "text/html; charset=utf-8",
                      .chunked = l->chunked,
                      .extra = "Vary: Accept\r\n",
                      .csp = s->csp[0] != '\0' ? s->csp : NULL};
    fs_respond(c, &r);
    if (c->state != CS_SEND || x->head_only) {
        fs_list_free(&l);
        free(page);
        return;
    }
    x->src.page = page;
    x->src.list = l;
}
