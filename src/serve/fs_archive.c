/* GET /dir/?tar and /dir/?zip: a directory as one archive, made while it
 * is sent. One walker, two formats (fs_tar.c, fs_zip.c; fs_archive.h).
 *
 * Nothing is held but one bounded page (ARCH_PAGE bytes), for each
 * directory level under way its descriptor and a small getdents buffer,
 * and what the format keeps (zip: its central directory, one record an
 * entry): no list of names, nothing on disk. The walk goes depth first in
 * the order the file system gives. Every entry is looked at without
 * following links (fstatat AT_SYMLINK_NOFOLLOW) and opened as one name
 * beneath its directory with openat2(RESOLVE_BENEATH) and O_NOFOLLOW, so
 * nothing outside the directory asked for is ever read. Symbolic links are
 * left out (never followed, never stored), as are FIFOs, sockets and
 * devices, names starting with "." unless --hidden, entries that cannot be
 * opened, and directories deeper than ARCH_DEPTH. A member's header states
 * the size fstat gave when the file was opened; a file that grows
 * afterwards is cut to that size, one that shrinks is padded with zero
 * bytes, so the archive's framing always holds. The body is chunked for
 * HTTP/1.1 and delimited by the close for HTTP/1.0. Under --auth each
 * member, once opened, passes the rights gate (fs_auth_may_fd) on where it
 * really is, so a folder reached through a link (pub/up -> ..) gives only
 * what the real paths allow. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "serve/fs.h"
#include "serve/fs_archive.h"
#include "serve/fs_auth.h"
#include "core/fsx.h"
#include "proto/html.h"
#include "proto/path.h"

#define ARCH_DEPTH 64              /* directory levels below the one asked for */
#define ARCH_PAGE (256u << 10)     /* archive bytes made at a time */
#define ARCH_DIRBUF 2048           /* getdents64 buffer per level */
#define ARCH_CHUNK_HEAD 10         /* "%08x\r\n" */
#define ARCH_ENTRIES_PER_FILL 4096 /* entries looked at per fill, whatever they give */
#define ARCH_NAME_MAX 8192         /* longest member name (tar's and zip's limit) */

struct level {
    int fd;
    size_t path_len; /* length of path up to and including this level's "/" */
    size_t pos, len;
    char dbuf[ARCH_DIRBUF];
};

enum arch_phase { AP_FOLDER, AP_WALK, AP_FILE, AP_END, AP_LAST_CHUNK, AP_DONE };

struct fs_archive {
    const struct archive_format *fmt;
    void *fst; /* the format's state */
    struct buf *page;
    enum arch_phase phase;
    bool chunked;
    bool hidden;
    int depth; /* levels open */
    int file_fd;
    int error; /* the format's, which cuts the archive; 0 if none */
    uint64_t file_off, file_left;
    size_t path_len;
    char path[ARCH_NAME_MAX];
    struct level lv[ARCH_DEPTH + 1];
    /* --auth: members are only what the user may read (the rights gate) */
    const struct fs_server *srv;
    const char *user; /* the exchange's, which outlives the body */
    size_t top_len;   /* path[0..top_len) is the folder's own "NAME/" */
    char base[PATH_MAX_LEN + 1]; /* the folder beneath the root; "." for the root */
};

/* The entry name at the top level as the request spelled it beneath the
 * root (the folder asked for, then the walk's path) into rel (relsz
 * bytes). 0, or -ENAMETOOLONG. */
static int spelled_rel(const struct fs_archive *t, const struct level *l, const char *name,
                       char *rel, size_t relsz)
{
    bool root = strcmp(t->base, ".") == 0;
    int len = snprintf(rel, relsz, "%s%s%.*s%s", root ? "" : t->base, root ? "" : "/",
                       (int)(l->path_len - t->top_len), t->path + t->top_len, name);

    return len > 0 && (size_t)len < relsz ? 0 : -ENAMETOOLONG;
}

void fs_archive_free(struct fs_archive **tp)
{
    struct fs_archive *t = *tp;

    if (t == NULL)
        return;
    *tp = NULL;
    for (int i = 0; i < t->depth; i++)
        close(t->lv[i].fd);
    if (t->file_fd >= 0)
        close(t->file_fd);
    if (t->fst != NULL)
        t->fmt->close(t->fst);
    free(t);
}

/* Pushes the directory open at fd, named path[0..path_len) with its "/". */
static void push(struct fs_archive *t, int fd)
{
    struct level *l = &t->lv[t->depth++];
    l->fd = fd;
    l->path_len = t->path_len;
    l->pos = l->len = 0;
}

static void pop(struct fs_archive *t)
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

/* Looks at one entry of the top level and starts its member, if it has one. */
static void visit(struct fs_archive *t, const char *name)
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
    char rel[PATH_MAX_LEN + ARCH_NAME_MAX + 2];
    bool auth = t->srv->opt.auth != NULL;
    if (auth && (spelled_rel(t, l, name, rel, sizeof rel) < 0 ||
                 !fs_auth_may(t->srv, t->user, rel, NULL, AUTH_READ)))
        return;
    if (fstatat(l->fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return;
    if (S_ISDIR(st.st_mode) && t->depth > ARCH_DEPTH)
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
    if (S_ISDIR(now.st_mode))
        t->path[len++] = '/';
    int rc = t->fmt->member(t->fst, t->page, t->path, len, &now);
    if (rc < 0) {
        close(fd);
        /* A name the format cannot hold is left out; anything else
         * (the zip's central directory full) cuts the archive. */
        if (rc != -ENAMETOOLONG && rc != -EINVAL)
            t->error = rc;
        return;
    }
    if (S_ISDIR(now.st_mode)) {
        t->path_len = len;
        push(t, fd);
        return;
    }
    t->file_fd = fd;
    t->file_off = 0;
    t->file_left = (uint64_t)now.st_size;
    t->phase = AP_FILE;
}

/* Moves file bytes into the page: those the header promised, no more; a
 * file that shrank is made up with zero bytes. At the end, the format's
 * trailer. 0, or -errno to cut the archive. */
static int file_part(struct fs_archive *t)
{
    struct buf *b = t->page;
    size_t room = buf_room(b) - 2 - t->fmt->member_max; /* the chunk's CR LF, a trailer */

    if (t->file_left > 0) {
        size_t want = t->file_left < room ? (size_t)t->file_left : room;
        char *p = b->data + b->wpos;
        ssize_t n = pread(t->file_fd, p, want, (off_t)t->file_off);
        if (n < 0 && errno == EINTR)
            return 0;
        if (n <= 0) {
            memset(p, 0, want); /* shrank (or failed): keep the promised length */
            n = (ssize_t)want;
        }
        buf_commit(b, (size_t)n);
        if (t->fmt->data != NULL)
            t->fmt->data(t->fst, p, (size_t)n);
        t->file_off += (uint64_t)n;
        t->file_left -= (uint64_t)n;
        return 0;
    }
    close(t->file_fd);
    t->file_fd = -1;
    t->phase = AP_WALK;
    return t->fmt->file_end(t->fst, b);
}

int fs_archive_fill(struct body_src *s)
{
    struct fs_archive *t = s->archive;
    struct buf *b = t->page;
    int entries = 0;

    b->rpos = b->wpos = 0;
    if (t->phase == AP_DONE)
        return 0;
    if (t->phase == AP_LAST_CHUNK) {
        t->phase = AP_DONE;
        return buf_puts(b, "0\r\n\r\n");
    }
    if (t->chunked)
        buf_commit(b, ARCH_CHUNK_HEAD); /* filled in below, once the size is known */
    size_t start = buf_len(b);
    /* Leave room for a whole member's records and the chunk's CR LF. */
    while (t->phase != AP_END && buf_room(b) > 2 * t->fmt->member_max + 2) {
        if (t->error < 0)
            return t->error;
        if (t->phase == AP_FILE) {
            int rc = file_part(t);
            if (rc < 0)
                return rc;
            continue;
        }
        if (t->phase == AP_FOLDER) {
            struct stat st;
            t->phase = AP_WALK; /* the folder itself is the first member */
            if (fstat(t->lv[0].fd, &st) == 0)
                t->fmt->member(t->fst, b, t->path, t->path_len, &st);
            continue;
        }
        if (t->depth == 0) {
            t->phase = AP_END;
            break;
        }
        if (entries++ == ARCH_ENTRIES_PER_FILL)
            break;
        const char *name = next_name(&t->lv[t->depth - 1]);
        if (name == NULL)
            pop(t);
        else
            visit(t, name);
    }
    if (t->phase == AP_END) {
        int rc = t->fmt->end(t->fst, b, 2);
        if (rc < 0)
            return rc;
        if (rc == 1)
            t->phase = t->chunked ? AP_LAST_CHUNK : AP_DONE;
    }
    size_t made = buf_len(b) - start;
    if (!t->chunked)
        return made == 0 && t->phase != AP_DONE ? -EAGAIN : 0;
    if (made == 0) {
        b->rpos = b->wpos = 0;
        return -EAGAIN;
    }
    char head[32];
    snprintf(head, sizeof head, "%08x\r\n", (unsigned)made); /* made <= ARCH_PAGE */
    memcpy(b->data, head, ARCH_CHUNK_HEAD);
    return buf_append(b, "\r\n", 2);
}

/* The archive's name into out (outsz bytes): the directory's last segment,
 * or for the root the served folder's own name ("root" when it has none,
 * as "/" has not). 0 or -errno. */
static int folder_name(const struct fs_server *s, const char *rel, char *out, size_t outsz)
{
    char real[PATH_MAX];
    const char *name = rel;

    if (strcmp(rel, ".") == 0) {
        name = "root";
        if (realpath(s->opt.root, real) != NULL) {
            const char *slash = strrchr(real, '/');
            if (slash != NULL && slash[1] != '\0')
                name = slash + 1;
        }
    } else {
        const char *slash = strrchr(rel, '/');
        if (slash != NULL)
            name = slash + 1;
    }
    int n = snprintf(out, outsz, "%s", name);
    return n > 0 && (size_t)n < outsz ? 0 : -ENAMETOOLONG;
}

/* Content-Disposition for name and extension ext (RFC 6266): an ASCII
 * fallback in quotes with anything unsafe replaced by "_", and the exact
 * name in filename*. */
static int disposition(struct buf *d, const char *name, const char *ext)
{
    int rc = buf_puts(d, "attachment; filename=\"");
    for (const char *p = name; *p != '\0' && rc == 0; p++) {
        unsigned char ch = (unsigned char)*p;
        bool safe = ch >= 0x20 && ch < 0x7f && ch != '"' && ch != '\\' && ch != '%';
        rc = buf_append(d, safe ? p : "_", 1);
    }
    if (rc == 0)
        rc = buf_printf(d, "%s\"; filename*=UTF-8''", ext);
    if (rc == 0)
        rc = url_encode(d, name, strlen(name), 0);
    if (rc == 0)
        rc = buf_append(d, ext, strlen(ext) + 1);
    return rc;
}

void fs_archive_serve(struct conn *c, int dirfd, const char *rel, enum fs_archive_kind kind)
{
    struct fs_server *s = c->w->srv;
    struct xchg *x = c->x;
    const struct archive_format *fmt = kind == FS_ARCHIVE_ZIP ? &fs_zip_format : &fs_tar_format;
    char name[NAME_MAX + 1];
    struct buf d;

    buf_init(&d, 3 * PATH_MAX_LEN + 128);
    struct fs_archive *t = calloc(1, sizeof *t);
    struct buf *page = malloc(sizeof *page + ARCH_PAGE);
    size_t nlen = 0;
    bool ok = t != NULL && page != NULL && folder_name(s, rel, name, sizeof name) == 0;
    if (ok) {
        nlen = strlen(name);
        ok = nlen + 2 <= sizeof t->path && disposition(&d, name, fmt->ext) == 0 &&
             fmt->open(&t->fst) == 0;
    }
    if (!ok) {
        if (t != NULL && t->fst != NULL)
            fmt->close(t->fst);
        free(t);
        free(page);
        buf_free(&d);
        close(dirfd);
        fs_respond_error(c, 500, NULL);
        return;
    }
    buf_init_fixed(page, page + 1, ARCH_PAGE);
    t->fmt = fmt;
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
        .status = 200, .type = fmt->type, .chunked = t->chunked, .disposition = d.data};
    fs_respond(c, &r);
    buf_free(&d);
    if (c->state != CS_SEND || x->head_only) {
        fs_archive_free(&t);
        free(page);
        return;
    }
    x->src.page = page;
    x->src.archive = t;
}
