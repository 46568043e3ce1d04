/* COPY and MOVE (RFC 4918 §9.8, §9.9) of files and whole trees.
 *
 * proto/davdest reads Destination (this server only, beneath the root by
 * the request target's own path rules), Overwrite and Depth, and refuses
 * what can never work (the same path, a folder into itself, onto what holds
 * the source) on the spelled paths and again on the real ones, after every
 * link, so that a link cannot hide a folder inside itself.
 *
 * Rights, decided by the rights gate on what the kernel acts on: read on
 * every source object (fs_auth_may_fd on the opened member), write on the
 * destination's real parent and final name (fs_auth_open_parent, then
 * fs_auth_may_at for each member made), and for MOVE write on the source's
 * real parent and name. A MOVE of a folder with --auth first walks it and
 * asks for write on each member where it is and where it would be, because
 * a rename carries the members from one set of rules to another; any
 * refusal there answers 207 and moves nothing.
 *
 * Files are copied into a temporary file beside the destination (serve/
 * upload, as PUT does) with copy_file_range (sendfile, then pread/write
 * where that is refused), with their user.* extended attributes (dead
 * properties; or their sidecar set, fs_davprop_copy) and permission bits,
 * then renamed into place, so a reader
 * sees the old file or the whole new one. A COPY does not wait for the
 * disk (no fsync: its source is still there, and a tree would wait once
 * per file); a MOVE that has to copy does, before its source goes. A MOVE is one renameat2 within
 * the root (RENAME_NOREPLACE with Overwrite: F); across file systems it
 * becomes a copy and a delete. Overwrite: T deletes an existing folder
 * destination first (a file destination is simply replaced by the rename).
 *
 * The source a COPY names is opened as GET opens it (a link on the way is
 * followed while it stays beneath the root, and the rights are decided on
 * where it really is); a MOVE renames the name itself, a link included.
 * Trees are walked with openat(O_NOFOLLOW) from the opened source folder:
 * a symbolic link in a copied tree is copied as a link (the same target
 * text, never followed), so a loop of links cannot make the walk recurse,
 * and what a link leads to is still decided on its real path when it is
 * used. ferry's own names (PATH_RESERVED_PREFIX) are never copied; devices,
 * FIFOs and sockets are not copied and are reported. A member that cannot
 * be read or written is left out and reported in a 207 Multi-Status.
 *
 * The checks run on the loop; the change itself too when it is small (one
 * rename, one file up to CM_INLINE_BYTES). Anything larger (a tree, a
 * folder to delete first, a big file) runs as a job (fs_job.c) on a
 * thread of its own while the connection waits in CS_JOB off its socket,
 * so the worker's other clients are served meanwhile; the loop answers
 * when the thread is done. At most CM_JOBS such threads per worker (more: 503 with
 * Retry-After). A connection that closes meanwhile detaches: the thread
 * finishes and frees its work itself; a stopping server tells the threads
 * to stop at their next member and waits for them (fs_jobs_free). The
 * work is bounded all the same: at most CM_MAX_ENTRIES members,
 * CM_MAX_DEPTH levels and CM_MAX_BYTES of file data per request; past a
 * bound the rest is not copied and reported 507. What a DELETE (or a
 * MOVE's source) removes loses its sidecar properties and locks as each
 * member goes, on the thread, so a detached job leaves none behind. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fsx.h"
#include "proto/davdest.h"
#include "proto/davxml.h"
#include "proto/path.h"
#include "serve/fs.h"
#include "serve/fs_auth.h"
#include "serve/fs_digest.h"
#include "serve/upload.h"

#define CM_MAX_ENTRIES 10000u            /* members a request walks */
#define CM_MAX_DEPTH 64u                 /* levels beneath the source */
#define CM_MAX_BYTES ((uint64_t)1 << 30) /* file bytes a COPY writes */
#define CM_MAX_ERRORS 32u                /* members a 207 names */
#define CM_PATH (PATH_MAX_LEN + 16)
#define CM_BUF 65536u               /* pread/write where nothing better works */
#define CM_BODY (FS_IO_BUF - 2048u) /* a 207 body, with room for the head */
#define CM_INLINE_BYTES (1u << 20)  /* a file COPY this small runs on the loop */
#define CM_JOBS 2u                  /* COPY/MOVE threads per worker (more: 503) */

struct cm_err {
    int status;
    char path[CM_PATH]; /* "/a/b" as the request spelled it */
};

/* One COPY or MOVE: who asks, what it has done, and the member at hand,
 * spelled as "/a/b" ("" for the root) so a name is appended and cut off
 * by length alone. */
struct cm_op;

struct cm {
    const struct fs_server *s;
    char user[AUTH_USER_MAX + 1]; /* a copy: a thread may outlive the exchange */
    uint64_t entries, bytes;
    bool full;               /* a bound was reached: walk no further */
    bool sync;               /* copies wait for the disk: a MOVE that deletes its source */
    bool forget_locks;       /* what remove_entry removes loses its locks (DELETE, MOVE) */
    struct fs_jobs *jobs;    /* on a thread: the registry whose stop ends the walk */
    struct cm_op *op;        /* on a thread: the change */
    size_t nerr;
    uint64_t lost;    /* errors past CM_MAX_ERRORS */
    char sp[CM_PATH]; /* the source member, spelled */
    size_t spl;
    char dp[CM_PATH]; /* the destination member, spelled */
    size_t dpl;
    char rd[CM_PATH]; /* the destination member's real path (MOVE's check) */
    size_t rdl;
    char rs[CM_PATH]; /* the source member's real path (MOVE's check) */
    size_t rsl;
    char *buf; /* CM_BUF bytes for the slowest copy; made when needed */
    struct cm_err err[CM_MAX_ERRORS];
};

/* "/a/b" as proto/path writes it: "a/b", "." for "". */
static const char *rel_of(const char *p)
{
    return p[0] == '\0' ? "." : p + 1;
}

/* Sets p to "/" + rel ("" for "."). */
static void path_set(char *p, size_t *len, const char *rel)
{
    if (strcmp(rel, ".") == 0) {
        p[0] = '\0';
        *len = 0;
        return;
    }
    p[0] = '/';
    *len = strlen(rel) + 1;
    memcpy(p + 1, rel, *len); /* rel is shorter than PATH_MAX_LEN: proto/path said so */
}

/* Appends "/name" to p. 0 or -ENAMETOOLONG (p unchanged). */
static int path_push(char *p, size_t *len, const char *name)
{
    size_t n = strlen(name);

    if (n + 1 >= PATH_MAX_LEN - *len)
        return -ENAMETOOLONG;
    p[*len] = '/';
    memcpy(p + *len + 1, name, n + 1);
    *len += n + 1;
    return 0;
}

static void path_cut(char *p, size_t *len, size_t to)
{
    *len = to;
    p[to] = '\0';
}

/* The status a member's error gets in a 207. */
static int member_status(int err)
{
    if (err == -EFBIG || err == -EMLINK)
        return 507; /* one of our bounds */
    return fs_change_status(err);
}

/* Notes a member that was not copied, moved or deleted: the source's
 * spelling, or the destination's when dest. */
static void note(struct cm *cm, int status, bool dest)
{
    if (cm->nerr == CM_MAX_ERRORS) {
        cm->lost++;
        return;
    }
    struct cm_err *e = &cm->err[cm->nerr++];
    e->status = status;
    const char *p = dest ? cm->dp : cm->sp;
    snprintf(e->path, sizeof e->path, "%s", p[0] ? p : "/");
}

/* Counts one more member. False (and the walk stops, reported 507) past
 * CM_MAX_ENTRIES. */
static bool count_entry(struct cm *cm)
{
    if (cm->full)
        return false;
    if (fs_jobs_stopping(cm->jobs)) {
        cm->full = true; /* the server is stopping: nobody waits for the answer */
        note(cm, 503, false);
        return false;
    }
    if (++cm->entries > CM_MAX_ENTRIES) {
        cm->full = true;
        note(cm, 507, false);
        return false;
    }
    return true;
}

/* ---- copying one file --------------------------------------------------- */

/* Copies the user.* extended attributes (the dead properties among them)
 * of sfd to dfd, but the digest stamp: it names the source's inode and
 * would never match the copy (security.*, trusted.*: not ours to carry).
 * 0 or -errno. */
static int copy_xattrs(int sfd, int dfd)
{
    return fsx_copy_xattrs(sfd, dfd, "user.", FS_DIGEST_XATTR);
}

/* The dead properties the sidecar store keeps for the source (st) go
 * to the copy open at dfd too (where user attributes are refused,
 * copy_xattrs carried none). 0 or -errno. */
static int copy_sidecar(struct cm *cm, const struct stat *st, int dfd)
{
    struct stat dst;

    if (fstat(dfd, &dst) < 0)
        return -errno;
    return fs_davprop_copy(cm->s, st, &dst);
}

/* Copies size bytes of sfd to ofd (at its position): copy_file_range,
 * then sendfile, then pread/write where the kernel refuses the others. A
 * source that shrinks meanwhile ends the copy early. 0 or -errno. */
static int copy_bytes(struct cm *cm, int sfd, int ofd, uint64_t size)
{
    enum { VIA_RANGE, VIA_SENDFILE, VIA_RW } via = VIA_RANGE;
    off_t off = 0;

    while ((uint64_t)off < size) {
        uint64_t left = size - (uint64_t)off;
        size_t want = left > (1u << 30) ? (1u << 30) : (size_t)left;
        ssize_t n;
        if (via == VIA_RANGE) {
            n = copy_file_range(sfd, &off, ofd, NULL, want, 0);
            if (n < 0 && (errno == EXDEV || errno == EINVAL || errno == ENOSYS ||
                          errno == EOPNOTSUPP || errno == EBADF)) {
                via = VIA_SENDFILE;
                continue;
            }
        } else if (via == VIA_SENDFILE) {
            n = sendfile(ofd, sfd, &off, want);
            if (n < 0 && (errno == EINVAL || errno == ENOSYS)) {
                via = VIA_RW;
                continue;
            }
        } else {
            if (cm->buf == NULL && (cm->buf = malloc(CM_BUF)) == NULL)
                return -ENOMEM;
            n = pread(sfd, cm->buf, want < CM_BUF ? want : CM_BUF, off);
            if (n > 0) {
                int rc = fsx_write_all(ofd, cm->buf, (size_t)n);
                if (rc < 0)
                    return rc;
                off += n;
            }
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0)
            break;
    }
    return 0;
}

/* Copies the regular file open at sfd (whose fstat is st) to name in the
 * directory ddir, through a temporary file renamed into place (replacing
 * a file or link of that name). *created says nothing had the name.
 * 0 or -errno (-EFBIG past CM_MAX_BYTES). */
static int copy_file(struct cm *cm, int sfd, const struct stat *st, int ddir, const char *name,
                     bool *created)
{
    uint64_t size = (uint64_t)st->st_size;
    struct upload *u;

    if (size > CM_MAX_BYTES - cm->bytes)
        return -EFBIG;
    int dfd = fcntl(ddir, F_DUPFD_CLOEXEC, 0);
    if (dfd < 0)
        return -errno;
    int rc = upload_begin_at(dfd, name, &u); /* takes dfd over */
    if (rc < 0)
        return rc;
    if (!cm->sync)
        upload_no_sync(u); /* the source is still there: no flush per file */
    int ofd = upload_fd(u);
    rc = copy_bytes(cm, sfd, ofd, size);
    if (rc == 0)
        rc = copy_xattrs(sfd, ofd);
    if (rc == 0)
        rc = copy_sidecar(cm, st, ofd);
    if (rc == 0 && fchmod(ofd, st->st_mode & 0777) < 0)
        rc = -errno;
    if (rc < 0) {
        upload_abort(u);
        return rc;
    }
    cm->bytes += size;
    return upload_commit(u, created);
}

/* Copies the symbolic link name in sdir to name in ddir, as a link with
 * the same target text: never followed. 0 or -errno. */
static int copy_link(int sdir, int ddir, const char *name)
{
    char target[PATH_MAX_LEN + 1];
    ssize_t n = readlinkat(sdir, name, target, sizeof target);

    if (n < 0)
        return -errno;
    if ((size_t)n == sizeof target)
        return -ENAMETOOLONG;
    target[n] = '\0';
    return symlinkat(target, ddir, name) < 0 ? -errno : 0;
}

/* ---- removing a tree ---------------------------------------------------- */

/* A directory stream of its own over the folder open at fd (fd stays
 * open and where it was), or NULL. */
static DIR *members_of(int fd)
{
    int dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;

    if (d == NULL && dfd >= 0)
        close(dfd);
    return d;
}

static int remove_entry(struct cm *cm, int dir, const char *name, unsigned depth);

/* Removes what the directory open at fd holds; cm->dp spells it. Members
 * that stay are noted. */
static void remove_members(struct cm *cm, int fd, unsigned depth)
{
    DIR *d = members_of(fd);
    struct dirent *de;

    if (d == NULL) {
        note(cm, 500, true);
        return;
    }
    while ((de = readdir(d)) != NULL) {
        const char *n = de->d_name;
        if (strcmp(n, ".") == 0 || strcmp(n, "..") == 0)
            continue;
        size_t dl = cm->dpl;
        if (path_push(cm->dp, &cm->dpl, n) < 0) {
            note(cm, 414, true);
            continue;
        }
        size_t before = cm->nerr + cm->lost;
        int rc = remove_entry(cm, fd, n, depth + 1);
        if (rc < 0 && !(rc == -ENOTEMPTY && cm->nerr + cm->lost > before))
            note(cm, member_status(rc), true); /* a folder kept by its members says nothing */
        path_cut(cm->dp, &cm->dpl, dl);
    }
    closedir(d);
}

/* What goes with an object removed (st its lstat, cm->dp its spelling):
 * its dead properties in the sidecar store (when this was its last name)
 * and, for DELETE and a MOVE's source, its locks (RFC 4918 §7.3). Done here,
 * on the job's thread, so that it happens even when nobody waits for the
 * answer any more. */
static void removed(struct cm *cm, const struct stat *st)
{
    if (!S_ISLNK(st->st_mode) && (S_ISDIR(st->st_mode) || st->st_nlink <= 1))
        fs_davprop_forget(cm->s, st);
    if (cm->forget_locks)
        fs_davlock_forget_at(cm->s, rel_of(cm->dp));
}

/* Removes name in dir, a whole folder with what it holds, never following
 * a link; cm->dp spells it. Each member needs write (the rights gate on
 * its real parent and name). Returns 0 (also when nothing had the name)
 * or -errno; -ENOTEMPTY when members stayed (they are noted). */
static int remove_entry(struct cm *cm, int dir, const char *name, unsigned depth)
{
    struct stat st;

    if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return errno == ENOENT ? 0 : -errno;
    if (!count_entry(cm))
        return -EMLINK;
    if (!fs_auth_may_at(cm->s, cm->user, rel_of(cm->dp), dir, name, AUTH_WRITE))
        return -EACCES;
    if (!S_ISDIR(st.st_mode)) {
        if (unlinkat(dir, name, 0) < 0)
            return -errno;
        removed(cm, &st);
        return 0;
    }
    if (depth >= CM_MAX_DEPTH)
        return -EMLINK;
    int fd = openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    remove_members(cm, fd, depth);
    close(fd);
    if (unlinkat(dir, name, AT_REMOVEDIR) < 0)
        return -errno;
    removed(cm, &st);
    return 0;
}

/* ---- copying a tree ----------------------------------------------------- */

static int copy_dir(struct cm *cm, int sfd, int ddir, const char *name, unsigned depth,
                    bool members);

/* Copies name in sdir (cm->sp) to name in ddir (cm->dp), whatever it is;
 * a member that cannot be copied is noted. */
static void copy_entry(struct cm *cm, int sdir, int ddir, const char *name, unsigned depth)
{
    struct stat st;
    bool created;

    if (!count_entry(cm))
        return;
    if (fstatat(sdir, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
        note(cm, member_status(-errno), false);
        return;
    }
    if (!fs_auth_may_at(cm->s, cm->user, rel_of(cm->dp), ddir, name, AUTH_WRITE)) {
        note(cm, 403, true);
        return;
    }
    if (S_ISLNK(st.st_mode)) {
        if (!fs_auth_may_at(cm->s, cm->user, rel_of(cm->sp), sdir, name, AUTH_READ)) {
            note(cm, 403, false);
            return;
        }
        int rc = copy_link(sdir, ddir, name);
        if (rc < 0)
            note(cm, member_status(rc), true);
        return;
    }
    if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) {
        note(cm, 403, false); /* a device, FIFO or socket is no resource to copy */
        return;
    }
    int fd = openat(sdir, name,
                    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC |
                        (S_ISDIR(st.st_mode) ? O_DIRECTORY : 0));
    if (fd < 0) {
        note(cm, member_status(-errno), false);
        return;
    }
    if (fstat(fd, &st) < 0 || !fs_auth_may_fd(cm->s, cm->user, rel_of(cm->sp), fd, AUTH_READ)) {
        close(fd);
        note(cm, 403, false);
        return;
    }
    int rc = S_ISREG(st.st_mode)   ? copy_file(cm, fd, &st, ddir, name, &created)
             : S_ISDIR(st.st_mode) ? copy_dir(cm, fd, ddir, name, depth + 1, true)
                                   : -EPERM; /* swapped for something else meanwhile */
    close(fd);
    if (rc < 0)
        note(cm, member_status(rc), true);
}

/* Copies the members of the folder open at sfd into the folder open at
 * dfd. */
static void copy_members(struct cm *cm, int sfd, int dfd, unsigned depth)
{
    DIR *d = members_of(sfd);
    struct dirent *de;

    if (d == NULL) {
        note(cm, 500, false);
        return;
    }
    while (!cm->full && (de = readdir(d)) != NULL) {
        const char *n = de->d_name;
        if (strcmp(n, ".") == 0 || strcmp(n, "..") == 0 || path_reserved(n, strlen(n)))
            continue; /* ferry's own files stay with their folder */
        size_t sl = cm->spl, dl = cm->dpl;
        if (path_push(cm->sp, &cm->spl, n) < 0 || path_push(cm->dp, &cm->dpl, n) < 0) {
            path_cut(cm->sp, &cm->spl, sl);
            note(cm, 414, false);
            continue;
        }
        copy_entry(cm, sfd, dfd, n, depth);
        path_cut(cm->sp, &cm->spl, sl);
        path_cut(cm->dp, &cm->dpl, dl);
    }
    closedir(d);
}

/* Makes the folder name in ddir as a copy of the folder open at sfd: its
 * attributes, and with members its whole tree. The folder itself failing
 * is returned (-errno); its members' failures are noted. */
static int copy_dir(struct cm *cm, int sfd, int ddir, const char *name, unsigned depth,
                    bool members)
{
    if (depth > CM_MAX_DEPTH)
        return -EMLINK;
    if (mkdirat(ddir, name, 0755) < 0)
        return -errno;
    int dfd = openat(ddir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0)
        return -errno;
    int rc = copy_xattrs(sfd, dfd);
    struct stat sst;
    if (rc == 0)
        rc = fstat(sfd, &sst) < 0 ? -errno : copy_sidecar(cm, &sst, dfd);
    if (rc == 0 && members)
        copy_members(cm, sfd, dfd, depth);
    close(dfd);
    return rc;
}

/* ---- MOVE's check of a folder's members ---------------------------------- */

/* With --auth: whether every member of the folder open at fd (cm->sp
 * where it is, cm->rs its real path; cm->dp and cm->rd where it goes) may
 * be written both where it is and where it would be. Refusals are noted. */
static void move_check(struct cm *cm, int fd, unsigned depth)
{
    DIR *d = members_of(fd);
    struct dirent *de;

    if (d == NULL) {
        note(cm, 403, false);
        return;
    }
    while (!cm->full && (de = readdir(d)) != NULL) {
        const char *n = de->d_name;
        if (strcmp(n, ".") == 0 || strcmp(n, "..") == 0 || !count_entry(cm))
            continue;
        size_t sl = cm->spl, dl = cm->dpl, rl = cm->rdl, ql = cm->rsl;
        if (path_push(cm->sp, &cm->spl, n) < 0 || path_push(cm->dp, &cm->dpl, n) < 0 ||
            path_push(cm->rd, &cm->rdl, n) < 0 || path_push(cm->rs, &cm->rsl, n) < 0) {
            note(cm, 414, false);
        } else if (!fs_auth_may(cm->s, cm->user, rel_of(cm->sp), rel_of(cm->rs), AUTH_WRITE)) {
            note(cm, 403, false);
        } else if (!fs_auth_may(cm->s, cm->user, rel_of(cm->dp), rel_of(cm->rd), AUTH_WRITE)) {
            note(cm, 403, true);
        } else if (de->d_type == DT_DIR || de->d_type == DT_UNKNOWN) {
            int sub = openat(fd, n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub >= 0 && depth + 1 >= CM_MAX_DEPTH)
                note(cm, 507, false);
            else if (sub >= 0)
                move_check(cm, sub, depth + 1);
            if (sub >= 0)
                close(sub);
        }
        path_cut(cm->sp, &cm->spl, sl);
        path_cut(cm->dp, &cm->dpl, dl);
        path_cut(cm->rd, &cm->rdl, rl);
        path_cut(cm->rs, &cm->rsl, ql);
    }
    closedir(d);
}

/* ---- answers ------------------------------------------------------------ */

/* Answers 207 with each noted member and its status (RFC 4918 §9.8.8,
 * §9.9.4), as many as fit in the exchange's buffer; the count of the rest
 * in a responsedescription. */
static void respond_multistatus(struct conn *c, const struct cm *cm)
{
    struct buf b;
    uint64_t left = cm->lost;

    buf_init(&b, CM_BODY);
    int rc = buf_puts(&b, "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
                          "<D:multistatus xmlns:D=\"DAV:\">\n");
    for (size_t i = 0; rc == 0 && i < cm->nerr; i++) {
        const struct cm_err *e = &cm->err[i];
        size_t mark = b.wpos;
        int r = buf_puts(&b, "<D:response><D:href>");
        if (r == 0)
            r = davxml_href(&b, rel_of(e->path), false);
        if (r == 0)
            r = buf_printf(&b, "</D:href><D:status>HTTP/1.1 %d %s</D:status></D:response>\n",
                           e->status, http_reason(e->status));
        if (r < 0 || buf_len(&b) > CM_BODY - 512) {
            b.wpos = mark; /* no room: counted below instead */
            left++;
        }
    }
    if (rc == 0 && left > 0)
        rc = buf_printf(&b,
                        "<D:responsedescription>%llu more members failed "
                        "too.</D:responsedescription>\n",
                        (unsigned long long)left);
    if (rc == 0)
        rc = buf_puts(&b, "</D:multistatus>\n");
    if (rc < 0) {
        buf_free(&b);
        fs_respond_error(c, 500, NULL);
        return;
    }
    fs_respond(c, &(struct reply){.status = 207,
                                  .type = "application/xml; charset=utf-8",
                                  .has_length = true,
                                  .length = buf_len(&b)});
    if (c->state == CS_SEND && !c->x->head_only &&
        buf_append(&c->x->out, buf_rptr(&b), buf_len(&b)) < 0)
        fs_conn_set_state(c, CS_CLOSE);
    buf_free(&b);
}

/* 201 for a new resource, 204 for one replaced, 207 when members failed. */
static void respond_done(struct conn *c, const struct cm *cm, bool existed)
{
    if (cm->nerr > 0)
        respond_multistatus(c, cm);
    else if (existed)
        fs_respond(c, &(struct reply){.status = 204});
    else
        fs_respond(c, &(struct reply){.status = 201, .has_length = true});
}

/* ---- the request -------------------------------------------------------- */

/* The real path ("." or "a/b") of name in the directory open at dirfd. */
static int real_at(const struct fs_server *s, int dirfd, const char *name, char *out)
{
    int rc = fsx_real_rel(s->rootfd, dirfd, out, CM_PATH);

    if (rc < 0)
        return rc;
    size_t n = strcmp(out, ".") == 0 ? 0 : strlen(out);
    if (n + strlen(name) + 2 > PATH_MAX_LEN)
        return -ENAMETOOLONG;
    if (n > 0)
        out[n++] = '/';
    strcpy(out + n, name);
    return 0;
}

/* The first header called name, or p == NULL. */
static struct http_str header(const struct http_request *req, const char *name)
{
    return http_header_get(req->headers, req->nheaders, name);
}

/* What every COPY and MOVE reads before touching anything. */
struct cm_req {
    bool move, overwrite;
    char drel[CM_PATH]; /* the destination, normalised */
    unsigned dflags;
};

/* Reads Overwrite and Destination. 0, or the status answered. */
static int read_headers(struct conn *c, const struct http_request *req,
                        const struct http_info *info, struct cm_req *r)
{
    struct http_str ow = header(req, "overwrite"), dest = header(req, "destination");
    int o = davdest_overwrite(ow.p, ow.len);

    r->move = req->method == HTTP_MOVE;
    if (o < 0) {
        fs_respond_page(c, 400, NULL, NULL, "Overwrite is T or F.");
        return 400;
    }
    r->overwrite = o == 1;
    struct davdest_self self = {
        .host = info->host.p, .host_len = info->host.len, .tls = fs_conn_secure(c)};
    int st = davdest_parse(dest.p, dest.len, &self, r->drel, PATH_MAX_LEN, &r->dflags);
    if (st == 502) {
        fs_respond_page(c, 502, NULL, NULL, "The Destination is not on this server.");
        return st;
    }
    if (st == 403) {
        fs_respond_page(c, 403, NULL, NULL, "The Destination leads above the served folder.");
        return st;
    }
    if (st != 0) {
        fs_respond_page(c, st, NULL, NULL, "The Destination header is missing or malformed.");
        return st;
    }
    const struct fs_options *so = &c->w->srv->opt;
    if (path_refused(r->dflags, so->hidden, !so->no_mac_files)) {
        fs_respond_page(c, 403, NULL, NULL, "Hidden and reserved names cannot be changed.");
        return 403;
    }
    if (strcmp(r->drel, ".") == 0) {
        fs_respond_page(c, 403, NULL, NULL, "The served folder itself cannot be replaced.");
        return 403;
    }
    /* The gate on the destination's spelling: an anonymous client is asked
     * to log in (401) rather than refused, as for any other write. */
    if (c->w->srv->opt.auth != NULL && fs_auth_gate(c, req, r->drel, AUTH_WRITE) != FS_GATE_PASS)
        return 401; /* answered, or waiting in CS_AUTH to come back through fs_route */
    if (!fs_may_write(c, r->drel)) {
        fs_respond_page(c, 403, NULL, NULL, "This account may not write at the Destination.");
        return 403;
    }
    return 0;
}

/* Opens the destination's real parent with the right to write its name
 * there; answers and returns -1 when it cannot be. */
static int open_dest_parent(struct conn *c, const struct cm_req *r, const char **dname)
{
    int dparent = fs_auth_open_parent(c->w->srv, c->x->user, r->drel, AUTH_WRITE, dname);

    if (dparent == -EACCES)
        fs_respond_page(c, 403, NULL, NULL, "This account may not write at the Destination.");
    else if (dparent < 0 && fs_change_status(dparent) == 409)
        fs_respond_page(c, 409, NULL, NULL, "The Destination's folder does not exist.");
    else if (dparent < 0)
        fs_respond_change_error(c, dparent);
    return dparent < 0 ? -1 : dparent;
}

/* The lock hook on the destination and, for MOVE, the source; 0 or -1
 * when it answered. */
static int check_locks(struct conn *c, const struct http_request *req, const struct cm_req *r,
                       const char *rel)
{
    const char *in_way = r->drel;
    int st = fs_davlock_check(c, req, r->drel, true);

    if (st == 0 && r->move) {
        in_way = rel;
        st = fs_davlock_check(c, req, rel, true);
    }
    if (st != 0) {
        fs_davlock_refuse(c, st, in_way); /* 423 names the locked resource */
        return -1;
    }
    return 0;
}

/* What a COPY or MOVE does once every check has passed: made on the loop
 * (prepare_*), done on the loop or on a thread of its own (work), answered
 * on the loop (answer). It owns its descriptors and copies of its names,
 * so it outlives the request and even the connection. */
struct cm_op {
    bool move, coll, existed, overwrite, members;
    bool del;             /* DELETE of the folder dname in dparent */
    bool clear;           /* the destination goes first (Overwrite: T onto a folder) */
    int sfd;              /* COPY: the source, open */
    int sparent, dparent; /* MOVE: the source's real parent; the destination's */
    struct stat st, dst;  /* the source; the destination when existed */
    char sname[CM_PATH], dname[CM_PATH];
    char srel[CM_PATH]; /* the source as spelled */
    char real_src[CM_PATH], real_dst[CM_PATH];
    enum { OP_DONE, OP_CLEAR_FAILED, OP_REFUSED } outcome;
    int rc;
};

static struct cm_op *op_new(void)
{
    struct cm_op *op = calloc(1, sizeof *op);

    if (op != NULL)
        op->sfd = op->sparent = op->dparent = -1;
    return op;
}

static void op_free(struct cm *cm, struct cm_op *op)
{
    if (op != NULL) {
        if (op->sfd >= 0)
            close(op->sfd);
        if (op->sparent >= 0)
            close(op->sparent);
        if (op->dparent >= 0)
            close(op->dparent);
        free(op);
    }
    if (cm != NULL) {
        free(cm->buf);
        free(cm);
    }
}

/* Copies name (at most CM_PATH - 1 bytes: proto/path made it) into out. */
static void keep_name(char *out, const char *name)
{
    snprintf(out, CM_PATH, "%s", name);
}

/* What COPY and MOVE check last, once both ends are open: refuse (a
 * davdest_refuse status, or 0), the locks, and Overwrite. 0 with op ready,
 * or -1 when answered. */
static int prepare_end(struct conn *c, const struct http_request *req, const struct cm_req *r,
                       const struct fs_dav_target *t, struct cm_op *op, int refuse)
{
    if (refuse != 0) {
        fs_respond_page(c, refuse, NULL, NULL,
                        "The Destination is the source, lies inside it, or holds it.");
        return -1;
    }
    if (check_locks(c, req, r, t->rel) < 0)
        return -1;
    op->existed = fstatat(op->dparent, op->dname, &op->dst, AT_SYMLINK_NOFOLLOW) == 0;
    if (op->existed && !r->overwrite) {
        fs_respond_page(c, 412, NULL, NULL, "The Destination exists and Overwrite is F.");
        return -1;
    }
    /* A file replaces a file or link by its rename; anything else goes
     * first. */
    op->clear = op->existed && (op->coll || S_ISDIR(op->dst.st_mode));
    return 0;
}

/* The COPY's checks, on the loop. 0 with op ready, or -1 when answered. */
static int prepare_copy(struct conn *c, const struct http_request *req, struct cm *cm,
                        const struct cm_req *r, const struct fs_dav_target *t, struct cm_op *op)
{
    const struct fs_server *s = c->w->srv;
    const char *dname;

    op->sfd = fsx_open_beneath(s->rootfd, t->rel, O_RDONLY | O_NONBLOCK | O_NOCTTY);
    if (op->sfd < 0) {
        fs_respond_error(c, op->sfd == -ENOENT || op->sfd == -ENOTDIR ? 404 : 403, NULL);
        return -1;
    }
    if (fstat(op->sfd, &op->st) < 0 || (!S_ISREG(op->st.st_mode) && !S_ISDIR(op->st.st_mode)) ||
        ((t->flags & PATH_TRAILING_SLASH) && !S_ISDIR(op->st.st_mode))) {
        fs_respond_error(c, 404, NULL);
        return -1;
    }
    if (!fs_auth_may_fd(s, cm->user, t->rel, op->sfd, AUTH_READ)) {
        fs_respond_page(c, 403, NULL, NULL, "This account may not read here.");
        return -1;
    }
    op->coll = S_ISDIR(op->st.st_mode);
    struct http_str dh = header(req, "depth");
    int depth = davdest_depth(dh.p, dh.len, false, op->coll);
    if (depth < 0) {
        fs_respond_page(c, 400, NULL, NULL, "COPY takes Depth 0 or infinity.");
        return -1;
    }
    op->members = depth == DAVDEST_DEPTH_INFINITY;
    int refuse = davdest_refuse(t->rel, r->drel, op->coll, depth, r->overwrite);
    if (refuse == 0) {
        op->dparent = open_dest_parent(c, r, &dname);
        if (op->dparent < 0)
            return -1;
        keep_name(op->dname, dname);
        /* The same refusals on the real paths: a link may hide a folder
         * inside itself, which the walk would then copy until its bounds. */
        if (fsx_real_rel(s->rootfd, op->sfd, op->real_src, CM_PATH) < 0 ||
            real_at(s, op->dparent, op->dname, op->real_dst) < 0)
            refuse = 403;
        else
            refuse = davdest_refuse(op->real_src, op->real_dst, op->coll, depth, r->overwrite);
    }
    return prepare_end(c, req, r, t, op, refuse);
}

/* The MOVE's checks, on the loop. 0 with op ready, or -1 when answered. */
static int prepare_move(struct conn *c, const struct http_request *req, struct cm *cm,
                        const struct cm_req *r, const struct fs_dav_target *t, struct cm_op *op)
{
    const struct fs_server *s = c->w->srv;
    const char *sname, *dname;

    if (strcmp(t->rel, ".") == 0) {
        fs_respond_page(c, 403, NULL, NULL, "The served folder itself cannot be moved.");
        return -1;
    }
    int sparent = fs_auth_open_parent(s, cm->user, t->rel, AUTH_WRITE, &sname);
    if (sparent == -EACCES) {
        fs_respond_page(c, 403, NULL, NULL, "This account may not write here.");
        return -1;
    }
    if (sparent < 0) {
        fs_respond_error(c, fs_change_status(sparent) == 409 ? 404 : fs_change_status(sparent),
                         NULL);
        return -1;
    }
    op->sparent = sparent;
    keep_name(op->sname, sname);
    if (fstatat(sparent, op->sname, &op->st, AT_SYMLINK_NOFOLLOW) < 0 ||
        ((t->flags & PATH_TRAILING_SLASH) && !S_ISDIR(op->st.st_mode))) {
        fs_respond_error(c, 404, NULL);
        return -1;
    }
    op->coll = S_ISDIR(op->st.st_mode);
    struct http_str dh = header(req, "depth");
    if (davdest_depth(dh.p, dh.len, true, op->coll) < 0) {
        fs_respond_page(c, 400, NULL, NULL, "MOVE of a folder takes Depth infinity only.");
        return -1;
    }
    int refuse = davdest_refuse(t->rel, r->drel, op->coll, DAVDEST_DEPTH_INFINITY, r->overwrite);
    if (refuse == 0) {
        op->dparent = open_dest_parent(c, r, &dname);
        if (op->dparent < 0)
            return -1;
        keep_name(op->dname, dname);
        if (real_at(s, sparent, op->sname, op->real_src) < 0 ||
            real_at(s, op->dparent, op->dname, op->real_dst) < 0)
            refuse = 403;
        else
            refuse = davdest_refuse(op->real_src, op->real_dst, op->coll, DAVDEST_DEPTH_INFINITY,
                                    r->overwrite);
    }
    op->move = true;
    return prepare_end(c, req, r, t, op, refuse);
}

/* MOVE's change: one rename, or across file systems a copy (on disk
 * before the source goes) and a delete. 0 or -errno. */
static int move_entry(struct cm *cm, struct cm_op *op)
{
    unsigned flags = op->overwrite ? 0 : RENAME_NOREPLACE;
    int rc = renameat2(op->sparent, op->sname, op->dparent, op->dname, flags) < 0 ? -errno : 0;

    if (rc == -EINVAL && flags != 0) /* no RENAME_NOREPLACE here: prepare_move looked */
        rc = renameat(op->sparent, op->sname, op->dparent, op->dname) < 0 ? -errno : 0;
    if (rc != -EXDEV)
        return rc;
    cm->sync = true;
    if (S_ISLNK(op->st.st_mode)) {
        rc = copy_link(op->sparent, op->dparent, op->dname);
    } else {
        int sfd =
            openat(op->sparent, op->sname,
                   O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | (op->coll ? O_DIRECTORY : 0));
        bool created;
        if (sfd < 0)
            return -errno;
        rc = op->coll ? copy_dir(cm, sfd, op->dparent, op->dname, 0, true)
                      : copy_file(cm, sfd, &op->st, op->dparent, op->dname, &created);
        close(sfd);
    }
    if (rc == 0 && cm->nerr == 0) {
        path_set(cm->dp, &cm->dpl, op->srel); /* the source goes now */
        cm->forget_locks = true;
        rc = remove_entry(cm, op->sparent, op->sname, 0);
    }
    return rc;
}

/* The part that may take long: on the loop for small changes, else on a
 * thread of its own. Touches no connection. */
static void work(struct cm *cm, struct cm_op *op)
{
    if (op->del) {
        cm->forget_locks = true; /* each member's, as it goes: it may stop midway */
        op->rc = remove_entry(cm, op->dparent, op->dname, 0);
        return;
    }
    if (op->move && op->coll && cm->s->opt.auth != NULL) {
        /* A rename carries every member from one set of rules to another. */
        int fd = openat(op->sparent, op->sname, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
            op->rc = -errno;
            return;
        }
        path_set(cm->rs, &cm->rsl, op->real_src);
        path_set(cm->rd, &cm->rdl, op->real_dst);
        move_check(cm, fd, 0);
        close(fd);
        if (cm->nerr > 0) {
            op->outcome = OP_REFUSED; /* nothing moved */
            return;
        }
        cm->entries = 0;
    }
    if (op->clear) {
        int rc = remove_entry(cm, op->dparent, op->dname, 0);
        if (rc < 0) {
            op->rc = rc;
            op->outcome = OP_CLEAR_FAILED;
            return;
        }
    }
    if (op->move) {
        op->rc = move_entry(cm, op);
        if (op->rc == 0 && cm->nerr == 0)
            fs_davlock_forget_at(cm->s, op->srel); /* a lock never moves (RFC 4918 §7.5) */
    } else if (op->coll) {
        op->rc = copy_dir(cm, op->sfd, op->dparent, op->dname, 0, op->members);
    } else {
        bool created;
        op->rc = copy_file(cm, op->sfd, &op->st, op->dparent, op->dname, &created);
    }
}

/* Answers what work did, on the loop. */
static void answer(struct conn *c, const struct cm *cm, const struct cm_op *op)
{
    int rc = op->rc;

    /* Locks went with what was removed or moved, in work(). */
    if (op->del && rc == 0) {
        fs_respond(c, &(struct reply){.status = 204});
        return;
    }
    if (op->outcome == OP_REFUSED || (rc < 0 && cm->nerr > 0))
        respond_multistatus(c, cm);
    else if (rc == -EEXIST && op->move) /* made meanwhile */
        fs_respond_page(c, 412, NULL, NULL, "The Destination exists and Overwrite is F.");
    else if (rc == -EFBIG)
        fs_respond_page(c, 507, NULL, NULL, "This copy is larger than one request may copy.");
    else if (rc < 0)
        fs_respond_change_error(c, rc);
    else
        respond_done(c, cm, op->existed);
}

/* ---- a thread for long work ---------------------------------------------- */

/* A COPY or MOVE as a job (fs_job.c): cm->op is the change. */
static void job_work(void *arg)
{
    struct cm *cm = arg;

    work(cm, cm->op);
}

static void job_answer(struct conn *c, void *arg)
{
    struct cm *cm = arg;

    answer(c, cm, cm->op);
}

static void job_free(void *arg)
{
    struct cm *cm = arg;

    op_free(cm, cm->op);
}

static const struct fs_job_ops cm_job = {job_work, job_answer, job_free};

/* Does op: at once when it is small (one rename, one small file), else
 * on a thread so that the worker's other clients do not wait for it. */
static void run(struct conn *c, struct cm *cm, struct cm_op *op)
{
    bool small = !op->coll && !op->clear && !op->del &&
                 (op->move || (uint64_t)op->st.st_size <= CM_INLINE_BYTES);

    if (small || c->w->srv->jobs == NULL) {
        work(cm, op);
        answer(c, cm, op);
        op_free(cm, op);
        return;
    }
    if (c->w->davjobs >= CM_JOBS) {
        fs_respond_page(c, 503, NULL, "Retry-After: 1\r\n",
                        "Too many copies and moves are under way: try again shortly.");
        op_free(cm, op);
        return;
    }
    cm->op = op;
    cm->jobs = c->w->srv->jobs;
    int rc = fs_job_start(c, &cm_job, cm, &c->w->davjobs);
    if (rc < 0) {
        fs_respond_page(c, 503, NULL, "Retry-After: 1\r\n",
                        "The server could not start this copy: try again shortly.");
        op_free(cm, op);
    }
}

void fs_dav_delete_tree(struct conn *c, int dirfd, const char *name, const char *rel)
{
    struct cm *cm = calloc(1, sizeof *cm);
    struct cm_op *op = op_new();

    if (cm == NULL || op == NULL) {
        op_free(cm, op);
        fs_respond_error(c, 503, NULL);
        return;
    }
    cm->s = c->w->srv;
    snprintf(cm->user, sizeof cm->user, "%s", c->x->user);
    path_set(cm->dp, &cm->dpl, rel);
    op->del = true;
    op->coll = true;
    keep_name(op->dname, name);
    op->dparent = fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
    if (op->dparent < 0) {
        op_free(cm, op);
        fs_respond_error(c, 503, NULL);
        return;
    }
    run(c, cm, op); /* a tree: on its own thread */
}

void fs_dav_copymove(struct conn *c, const struct http_request *req, const struct http_info *info,
                     const struct fs_dav_target *t)
{
    struct cm_req r;

    if (read_headers(c, req, info, &r) != 0)
        return;
    struct cm *cm = calloc(1, sizeof *cm);
    struct cm_op *op = op_new();
    if (cm == NULL || op == NULL) {
        op_free(cm, op);
        fs_respond_error(c, 503, NULL);
        return;
    }
    cm->s = c->w->srv;
    snprintf(cm->user, sizeof cm->user, "%s", c->x->user);
    path_set(cm->sp, &cm->spl, t->rel);
    path_set(cm->dp, &cm->dpl, r.drel);
    op->overwrite = r.overwrite;
    keep_name(op->srel, t->rel);
    int rc = r.move ? prepare_move(c, req, cm, &r, t, op) : prepare_copy(c, req, cm, &r, t, op);
    if (rc < 0) {
        op_free(cm, op);
        return;
    }
    run(c, cm, op);
}
