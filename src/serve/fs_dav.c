/* The methods that change the tree besides PUT: MKCOL makes a directory,
 * DELETE removes a file, a symbolic link (never what it points at) or an
 * empty directory; OPTIONS says which methods a path allows, and that
 * WebDAV classes 1 and 2 are spoken (FS_DAV_HEADERS). Paths resolve
 * as PUT's do: normalised by proto/path, the parent opened beneath the root
 * with openat2(RESOLVE_BENEATH), so neither ".." nor a link can lead out,
 * and the last segment handled in that parent without following it.
 * The parent comes from fs_auth_open_parent, the rights gate on the real
 * directory and the final name, so a link on the way (incoming/link ->
 * ../secret) cannot carry a change where the account may not write.
 * fs_may_write answers for the spelling alone: what Allow advertises and
 * the early 405, never the last word. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "serve/fs.h"
#include "serve/fs_auth.h"
#include "core/fsx.h"

bool fs_may_write(const struct conn *c, const char *rel)
{
    return fs_auth_may(c->w->srv, c->x != NULL ? c->x->user : NULL, rel, NULL, AUTH_WRITE);
}

const char *fs_allow(const struct conn *c, const char *rel)
{
    return fs_may_write(c, rel) ? "GET, HEAD, OPTIONS, PUT, DELETE, MKCOL, PROPFIND, PROPPATCH, "
                                  "COPY, MOVE, LOCK, UNLOCK"
                                : "GET, HEAD, OPTIONS, PROPFIND";
}

const char *fs_write_refusal(const struct conn *c)
{
    if (!c->w->srv->opt.upload)
        return "This server takes no uploads or changes: it was started without --upload.";
    return "This account may not write here.";
}

void fs_respond_no_write(struct conn *c, const char *rel)
{
    fs_respond_page(c, 405, fs_allow(c, rel), NULL, fs_write_refusal(c));
}

/* True when the request carries a body (MKCOL bodies are not understood). */
static bool has_body(const struct xchg *x)
{
    return x->body.framing != FATE_NO_BODY;
}

/* rel's parent beneath the root, when c's user may write name in it
 * (fs_auth_open_parent); -errno otherwise (-EACCES for the rights). */
static int open_parent(struct conn *c, const char *rel, const char **name)
{
    return fs_auth_open_parent(c->w->srv, c->x->user, rel, AUTH_WRITE, name);
}

void fs_dav_mkcol(struct conn *c, const char *rel)
{
    const char *name;

    /* RFC 4918 §9.3.1: a body we do not understand is 415; a resource
     * that exists is 405; a missing parent is 409. */
    if (has_body(c->x)) {
        fs_respond_error(c, 415, NULL);
        return;
    }
    if (strcmp(rel, ".") == 0) {
        fs_respond_page(c, 405, fs_allow(c, rel), NULL,
                        "MKCOL makes a new folder; this one exists.");
        return;
    }
    int dirfd = open_parent(c, rel, &name);
    if (dirfd < 0) {
        fs_respond_change_error(c, dirfd);
        return;
    }
    int rc = mkdirat(dirfd, name, 0755) < 0 ? -errno : 0;
    close(dirfd);
    if (rc == -EEXIST)
        fs_respond_page(c, 405, fs_allow(c, rel), NULL,
                        "MKCOL makes a new folder; this name exists.");
    else if (rc < 0)
        fs_respond_change_error(c, rc);
    else
        fs_respond(c, &(struct reply){.status = 201, .has_length = true});
}

void fs_dav_delete(struct conn *c, const char *rel, bool trailing_slash)
{
    const char *name;
    struct stat st;

    if (strcmp(rel, ".") == 0) {
        fs_respond_page(c, 403, NULL, NULL, "The served folder itself cannot be deleted.");
        return;
    }
    int dirfd = open_parent(c, rel, &name);
    if (dirfd < 0) {
        if (fs_change_status(dirfd) == 409)
            fs_respond_error(c, 404, NULL);
        else
            fs_respond_change_error(c, dirfd);
        return;
    }
    int rc = 0;
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
        rc = -errno;
    } else if (S_ISDIR(st.st_mode)) {
        fs_dav_delete_tree(c, dirfd, name, rel); /* with what it holds */
        close(dirfd);
        return;
    } else if (trailing_slash && !S_ISDIR(st.st_mode))
        rc = -ENOENT; /* "file/" names nothing, as for GET */
    else if (unlinkat(dirfd, name, S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0) < 0)
        rc = -errno; /* a link is removed itself: unlinkat never follows one */
    close(dirfd);
    if (rc == 0 && !S_ISLNK(st.st_mode) && (S_ISDIR(st.st_mode) || st.st_nlink <= 1))
        fs_davprop_forget(c->w->srv, &st); /* its dead properties, if in the sidecar */
    if (rc == 0)
        fs_davlock_forget(c, rel); /* its locks went with it (RFC 4918 §7.3) */
    if (rc == 0)
        fs_respond(c, &(struct reply){.status = 204});
    else if (rc == -ENOENT || rc == -ENOTDIR)
        fs_respond_error(c, 404, NULL);
    else if (rc == -ENOTEMPTY || rc == -EEXIST || rc == -EISDIR)
        fs_respond_page(c, 409, NULL, NULL,
                        "This folder is not empty: delete what it holds first.");
    else
        fs_respond_change_error(c, rc);
}
