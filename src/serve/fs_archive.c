/* GET /dir/?tar: a directory as one tar archive, made while it is sent.
 *
 * Nothing is held but one bounded page (TAR_PAGE bytes) and, for each
 * directory level under way, its descriptor and a small getdents buffer:
 * no list of names, nothing on disk. The walk goes depth first in the
 * order the file system gives. Every entry is looked at without following
 * links (fstatat AT_SYMLINK_NOFOLLOW) and opened as one name beneath its
 * directory with openat2(RESOLVE_BENEATH) and O_NOFOLLOW, so nothing outside
 * the directory asked for is ever read. Symbolic links are left out (never
 * followed, never stored), as are FIFOs, sockets and devices, names starting
 * with "." unless --hidden, entries that cannot be opened, and directories
 * deeper than TAR_DEPTH. A member's header states the size fstat gave when
 * the file was opened; a file that grows afterwards is cut to that size,
 * one that shrinks is padded with zero bytes, so the archive's framing
 * always holds. Names longer than ustar holds go in pax headers
 * (proto/tar). The body is chunked for HTTP/1.1 and delimited by the close
 * for HTTP/1.0. Under --auth each member, once opened, passes the rights
 * gate (fs_auth_may_fd) on where it really is, so a folder reached through
 * a link (pub/up -> ..) gives only what the real paths allow. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "serve/fs.h"
#include "serve/fs_auth.h"
#include "core/fsx.h"
#include "proto/html.h"
#include "proto/path.h"
#include "proto/tar.h"

#define TAR_DEPTH 64              /* directory levels below the one asked for */
#define TAR_PAGE (256u << 10)     /* archive bytes made at a time */
#define TAR_DIRBUF 2048           /* getdents64 buffer per level */
#define TAR_CHUNK_HEAD 10         /* "%08x\r\n" */
#define TAR_ENTRIES_PER_FILL 4096 /* entries looked at per fill, whatever they give */

struct level {
    int fd;
    size_t path_len; /* length of path up to and including this level's "/" */
    size_t pos, len;
    char dbuf[TAR_DIRBUF];
};

enum tar_phase { TP_FOLDER, TP_WALK, TP_FILE, TP_END, TP_LAST_CHUNK, TP_DONE };

struct fs_tar {
    struct buf *page;
    enum tar_phase phase;
    bool chunked;
    bool hidden;
    int depth; /* levels open */
    int file_fd;
    uint64_t file_off, file_left, file_pad;
    size_t path_len;
    char path[TAR_NAME_MAX];
    struct level lv[TAR_DEPTH + 1];
    /* --auth: members are only what the user may read (the rights gate) */
    const struct fs_server *srv;
    const char *user; /* the exchange's, which outlives the body */
    size_t top_len;   /* path[0..top_len) is the folder's own "NAME/" */
    char base[PATH_MAX_LEN + 1]; /* the folder beneath the root; "." for the root */
};

/* The entry name at the top level as the request spelled it beneath the
 * root (the folder asked for, then the walk's path) into rel (relsz
 * bytes). 0, or -ENAMETOOLONG. */
static int spelled_rel(const struct fs_tar *t, const struct level *l, const char *name, char *rel,
                       size_t relsz)
{
    bool root = strcmp(t->base, ".") == 0;
    int len = snprintf(rel, relsz, "%s%s%.*s%s", root ? "" : t->base, root ? "" : "/",
                       (int)(l->path_len - t->top_len), t->path + t->top_len, name);

    return len > 0 && (size_t)len < relsz ? 0 : -ENAMETOOLONG;
}

void fs_tar_free(struct fs_tar **tp)
{
    struct fs_tar *t = *tp;

    if (t == NULL)
        return;
    *tp = NULL;
    for (int i = 0; i < t->depth; i++)
        close(t->lv[i].fd);
    if (t->file_fd >= 0)
        close(t->file_fd);
    free(t);
}

/* Pushes the directory open at fd, named path[0..path_len) with its "/". */
static void push(struct fs_tar *t, int fd)
{
    struct level *l = &t->lv[t->depth++];
    l->fd = fd;
    l->path_len = t->path_len;
    l->pos = l->len = 0;
}

static void pop(struct fs_tar *t)
{
    struct level *l = &t->lv[--t->depth];
    close(l->fd);
    if (t->depth > 0)
        t->path_len = t->lv[t->depth - 1].path_len;
}

/* The next name in the top level, or NULL at its end (or on an error,
 * which ends that directory early). */
static const char *next_name(struct level *l)
{
    for (;;) {
        if (l->pos >= l->len) {
            ssize_t n = getdents64(l->fd, l->dbuf, sizeof l->dbuf);
            if (n <= 0)
                return NULL;
            l->pos = 0;
            l->len = (size_t)n;
        }
        struct dirent64 *de = (struct dirent64 *)(void *)(l->dbuf + l->pos);
        l->pos += de->d_reclen;
        const char *name = de->d_name;
        if (strcmp(name, ".") != 0 && strcmp(name, "..") != 0)
            return name;
    }
}

/* Writes a member header for path[0..len) into the page. */
static int put_header(struct fs_tar *t, size_t len, char type, const struct stat *st)
{
    struct tar_member m = {.name = t->path,
                           .name_len = len,
                           .type = type,
                           .size = type == TAR_FILE ? (uint64_t)st->st_size : 0,
                           .mode = (uint32_t)st->st_mode,
                           .mtime = (int64_t)st->st_mtime};
    char *p = buf_reserve(t->page, TAR_HEADER_MAX);
    if (p == NULL)
        return -ENOBUFS;
    long n = tar_header(&m, p, TAR_HEADER_MAX);
    if (n < 0)
        return (int)n;
    buf_commit(t->page, (size_t)n);
    return 0;
}

/* Looks at one entry of the top level and starts its member, if it has one. */
static void visit(struct fs_tar *t, const char *name)
{
    struct level *l = &t->lv[t->depth - 1];
    size_t nlen = strlen(name);
    struct stat st;

    if ((!t->hidden && name[0] == '.') || path_reserved(name, nlen))
        return;
    if (l->path_len + nlen + 1 >= sizeof t->path)
        return; /* deeper than any name we store */
    /* --auth: the spelling first (no need to open what it refuses), then
     * the rights gate on the member opened, where it really is: the folder
     * asked for may itself be reached through a link. */
    char rel[PATH_MAX_LEN + TAR_NAME_MAX + 2];
    bool auth = t->srv->opt.auth != NULL;
    if (auth && (spelled_rel(t, l, name, rel, sizeof rel) < 0 ||
                 !fs_auth_may(t->srv, t->user, rel, NULL, AUTH_READ)))
        return;
    if (fstatat(l->fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return;
    if (S_ISDIR(st.st_mode) && t->depth > TAR_DEPTH)
        return;
    if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
        return; /* links, FIFOs, sockets, devices */
    int flags = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY;
    if (S_ISDIR(st.st_mode))
        flags |= O_DIRECTORY;
    int fd = fsx_open_beneath(l->fd, name, flags);
    if (fd < 0)
        return;
    struct stat now;
    if (fstat(fd, &now) < 0 || (now.st_mode & S_IFMT) != (st.st_mode & S_IFMT) ||
        (auth && !fs_auth_may_fd(t->srv, t->user, rel, fd, AUTH_READ))) {
        close(fd); /* swapped for something else since fstatat, or not the user's */
        return;
    }
    memcpy(t->path + l->path_len, name, nlen);
    size_t len = l->path_len + nlen;
    if (S_ISDIR(now.st_mode)) {
        t->path[len++] = '/';
        if (put_header(t, len, TAR_DIR, &now) < 0) {
            close(fd);
            return;
        }
        t->path_len = len;
        push(t, fd);
        return;
    }
    if (put_header(t, len, TAR_FILE, &now) < 0) {
        close(fd);
        return;
    }
    t->file_fd = fd;
    t->file_off = 0;
    t->file_left = (uint64_t)now.st_size;
    t->file_pad = tar_pad((uint64_t)now.st_size);
    t->phase = TP_FILE;
}

/* Appends n zero bytes to the page (n at most its room). */
static void zeros(struct buf *b, size_t n)
{
    memset(b->data + b->wpos, 0, n);
    buf_commit(b, n);
}

/* Moves file bytes into the page: those the header promised, no more; a
 * file that shrank is made up with zero bytes. */
static int file_part(struct fs_tar *t)
{
    struct buf *b = t->page;
    size_t room = buf_room(b) - 2; /* the chunk's CR LF */

    if (t->file_left > 0) {
        size_t want = t->file_left < room ? (size_t)t->file_left : room;
        ssize_t n = pread(t->file_fd, b->data + b->wpos, want, (off_t)t->file_off);
        if (n < 0 && errno == EINTR)
            return 0;
        if (n <= 0) {
            zeros(b, want); /* shrank (or failed): keep the promised length */
            n = (ssize_t)want;
        } else {
            buf_commit(b, (size_t)n);
        }
        t->file_off += (uint64_t)n;
        t->file_left -= (uint64_t)n;
        return 0;
    }
    size_t pad = t->file_pad < room ? (size_t)t->file_pad : room;
    zeros(b, pad);
    t->file_pad -= pad;
    if (t->file_pad == 0) {
        close(t->file_fd);
        t->file_fd = -1;
        t->phase = TP_WALK;
    }
    return 0;
}

int fs_tar_fill(struct body_src *s)
{
    struct fs_tar *t = s->tar;
    struct buf *b = t->page;
    int entries = 0;

    b->rpos = b->wpos = 0;
    if (t->phase == TP_DONE)
        return 0;
    if (t->phase == TP_LAST_CHUNK) {
        t->phase = TP_DONE;
        return buf_puts(b, "0\r\n\r\n");
    }
    if (t->chunked)
        buf_commit(b, TAR_CHUNK_HEAD); /* filled in below, once the size is known */
    size_t start = buf_len(b);
    /* Leave room for a whole header and the chunk's CR LF. */
    while (t->phase != TP_END && buf_room(b) > TAR_HEADER_MAX + 2) {
        if (t->phase == TP_FILE) {
            file_part(t);
            continue;
        }
        if (t->phase == TP_FOLDER) {
            struct stat st;
            t->phase = TP_WALK; /* the folder itself is the first member */
            if (fstat(t->lv[0].fd, &st) == 0)
                put_header(t, t->path_len, TAR_DIR, &st);
            continue;
        }
        if (t->depth == 0) {
            t->phase = TP_END;
            break;
        }
        if (entries++ == TAR_ENTRIES_PER_FILL)
            break;
        const char *name = next_name(&t->lv[t->depth - 1]);
        if (name == NULL)
            pop(t);
        else
            visit(t, name);
    }
    if (t->phase == TP_END && buf_room(b) >= TAR_END_LEN + 2) {
        zeros(b, TAR_END_LEN);
        t->phase = t->chunked ? TP_LAST_CHUNK : TP_DONE;
    }
    size_t made = buf_len(b) - start;
    if (!t->chunked)
        return made == 0 && t->phase != TP_DONE ? -EAGAIN : 0;
    if (made == 0) {
        b->rpos = b->wpos = 0;
        return -EAGAIN;
    }
    char head[32];
    snprintf(head, sizeof head, "%08x\r\n", (unsigned)made); /* made <= TAR_PAGE */
    memcpy(b->data, head, TAR_CHUNK_HEAD);
    return buf_append(b, "\r\n", 2);
}

/* The archive's name: the directory's last segment, or "root" for the root. */
static const char *folder_name(const char *rel)
{
    const char *slash = strrchr(rel, '/');
    if (strcmp(rel, ".") == 0)
        return "root";
    return slash ? slash + 1 : rel;
}

/* Content-Disposition for name (RFC 6266): an ASCII fallback in quotes
 * with anything unsafe replaced by "_", and the exact name in filename*. */
static int disposition(struct buf *d, const char *name)
{
    int rc = buf_puts(d, "attachment; filename=\"");
    for (const char *p = name; *p != '\0' && rc == 0; p++) {
        unsigned char ch = (unsigned char)*p;
        bool safe = ch >= 0x20 && ch < 0x7f && ch != '"' && ch != '\\' && ch != '%';
        rc = buf_append(d, safe ? p : "_", 1);
    }
    if (rc == 0)
        rc = buf_puts(d, ".tar\"; filename*=UTF-8''");
    if (rc == 0)
        rc = url_encode(d, name, strlen(name), 0);
    if (rc == 0)
        rc = buf_append(d, ".tar", 5);
    return rc;
}

void fs_tar_serve(struct conn *c, int dirfd, const char *rel)
{
    struct fs_server *s = c->w->srv;
    struct xchg *x = c->x;
    const char *name = folder_name(rel);
    size_t nlen = strlen(name);
    struct buf d;

    buf_init(&d, 3 * PATH_MAX_LEN + 128);
    struct fs_tar *t = calloc(1, sizeof *t);
    struct buf *page = malloc(sizeof *page + TAR_PAGE);
    if (t == NULL || page == NULL || nlen + 2 > sizeof t->path || disposition(&d, name) < 0) {
        free(t);
        free(page);
        buf_free(&d);
        close(dirfd);
        fs_respond_error(c, 500, NULL);
        return;
    }
    buf_init_fixed(page, page + 1, TAR_PAGE);
    t->page = page;
    t->file_fd = -1;
    t->hidden = s->opt.hidden;
    t->chunked = x->minor >= 1;
    memcpy(t->path, name, nlen);
    t->path[nlen] = '/';
    t->path_len = nlen + 1;
    t->top_len = nlen + 1;
    t->srv = s;
    t->user = x->user;
    snprintf(t->base, sizeof t->base, "%s", rel);
    push(t, dirfd);
    if (!t->chunked)
        x->body.keep_alive = false; /* HTTP/1.0: the close ends the body */
    struct reply r = {
        .status = 200, .type = "application/x-tar", .chunked = t->chunked, .disposition = d.data};
    fs_respond(c, &r);
    buf_free(&d);
    if (c->state != CS_SEND || x->head_only) {
        fs_tar_free(&t);
        free(page);
        return;
    }
    x->src.page = page;
    x->src.tar = t;
}
