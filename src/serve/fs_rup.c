/* The store of resumable uploads and the answers that carry no body. See
 * fs_rup.h. */
#include "serve/fs_rup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "serve/fs.h"
#include "serve/upload.h"
#include "core/fsx.h"

#define SLOTS 64             /* uploads written at the same time */
#define SWEEP_EVERY_S 60     /* new uploads sweep the expired at most this often */
#define SWEEP_MAX 4096       /* states looked at by one sweep */

struct fs_rup_slot {
    char token[RUP_TOKEN_LEN + 1];
    int refs;            /* requests holding it; 0: free (under fs_rup.mu) */
    uint64_t gen;        /* the request that may write (under wmu) */
    pthread_mutex_t wmu; /* held across the generation check and the write */
};

struct fs_rup {
    int rootfd;
    atomic_int regfd; /* ROOT/.ferry-uploads; -1 until the first upload makes it */
    int64_t max_age;
    uint64_t max_size;
    pthread_mutex_t mu; /* the slot table, the sweep time */
    int64_t swept_at;
    struct fs_rup_slot slots[SLOTS];
};

static int64_t now_s(void)
{
    return (int64_t)time(NULL);
}

void fs_rup_partial(const char *token, char out[64])
{
    snprintf(out, 64, "%s%s", FS_RUP_PARTIAL, token);
}

/* ---- state files ------------------------------------------------------------ */

static int state_read(struct fs_rup *r, const char *token, struct rup_state *st)
{
    char text[RUP_STATE_MAX];
    int fd = openat(r->regfd, token, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);

    if (fd < 0)
        return -errno;
    ssize_t n = read(fd, text, sizeof text);
    close(fd);
    if (n <= 0 || rup_state_parse(text, (size_t)n, st) < 0)
        return -EINVAL;
    return 0;
}

int fs_rup_save(struct fs_rup *r, const char *token, const struct rup_state *st)
{
    char text[RUP_STATE_MAX], tmp[RUP_TOKEN_LEN + 8];
    size_t n = rup_state_format(st, text);

    if (n == 0)
        return -ENAMETOOLONG;
    snprintf(tmp, sizeof tmp, "%s.new", token);
    int fd = openat(r->regfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    int rc = fsx_write_all(fd, text, n);
    if (close(fd) < 0 && rc == 0)
        rc = -errno;
    if (rc == 0 && renameat(r->regfd, tmp, r->regfd, token) < 0)
        rc = -errno;
    if (rc < 0)
        unlinkat(r->regfd, tmp, 0);
    return rc;
}

void fs_rup_forget(struct fs_rup *r, const char *token, const char *rel)
{
    const char *name;
    char partial[64];
    int dirfd = fsx_open_parent(r->rootfd, rel, &name);

    fs_rup_partial(token, partial);
    if (dirfd >= 0) {
        unlinkat(dirfd, partial, 0);
        close(dirfd);
    }
    unlinkat(r->regfd, token, 0);
}

static bool expired(const struct fs_rup *r, const struct rup_state *st, int64_t now)
{
    return now - st->created > r->max_age || st->created > now + 86400;
}

static bool token_name(const char *s)
{
    if (strlen(s) != RUP_TOKEN_LEN)
        return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return false;
    return true;
}

/* Removes expired uploads (and states that do not parse, and leftover
 * ".new" files), at most SWEEP_MAX looked at. */
static void sweep(struct fs_rup *r)
{
    int fd = openat(r->regfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    struct dirent *de;
    int64_t now = now_s();
    int seen = 0;

    if (d == NULL) {
        if (fd >= 0)
            close(fd);
        return;
    }
    while ((de = readdir(d)) != NULL && seen++ < SWEEP_MAX) {
        struct rup_state st;
        if (de->d_name[0] == '.')
            continue;
        if (!token_name(de->d_name)) {
            unlinkat(r->regfd, de->d_name, 0); /* a ".new" left by a crash, or junk */
            continue;
        }
        if (state_read(r, de->d_name, &st) < 0)
            unlinkat(r->regfd, de->d_name, 0);
        else if (expired(r, &st, now))
            fs_rup_forget(r, de->d_name, st.rel);
    }
    closedir(d);
}

/* The state directory, made on the first upload (under r->mu): a server
 * that never gets one leaves no trace in the tree. 0 or -errno. */
static int state_dir(struct fs_rup *r, bool make)
{
    if (r->regfd >= 0)
        return 0;
    if (make && mkdirat(r->rootfd, FS_RUP_DIR, 0700) < 0 && errno != EEXIST)
        return -errno;
    r->regfd = openat(r->rootfd, FS_RUP_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    return r->regfd < 0 ? -errno : 0;
}

int fs_rup_open(int rootfd, int64_t max_age_s, uint64_t max_size, struct fs_rup **out)
{
    struct fs_rup *r = calloc(1, sizeof *r);

    if (r == NULL)
        return -ENOMEM;
    r->regfd = -1;
    r->rootfd = rootfd;
    int rc = state_dir(r, false);
    if (rc < 0 && rc != -ENOENT) { /* a link or a file in its place */
        free(r);
        return rc;
    }
    r->max_age = max_age_s;
    r->max_size = max_size;
    pthread_mutex_init(&r->mu, NULL);
    for (int i = 0; i < SLOTS; i++)
        pthread_mutex_init(&r->slots[i].wmu, NULL);
    if (r->regfd >= 0)
        sweep(r);
    r->swept_at = now_s();
    *out = r;
    return 0;
}

void fs_rup_close(struct fs_rup *r)
{
    if (r == NULL)
        return;
    for (int i = 0; i < SLOTS; i++)
        pthread_mutex_destroy(&r->slots[i].wmu);
    pthread_mutex_destroy(&r->mu);
    if (r->regfd >= 0)
        close(r->regfd);
    free(r);
}

int fs_rup_create(struct fs_rup *r, const struct rup_state *st, char token[RUP_TOKEN_LEN + 1])
{
    unsigned char raw[16];
    struct stat sb;
    int64_t now = now_s();

    pthread_mutex_lock(&r->mu);
    int rc = state_dir(r, true);
    bool due = now - r->swept_at >= SWEEP_EVERY_S;
    if (due)
        r->swept_at = now;
    pthread_mutex_unlock(&r->mu);
    if (rc < 0)
        return rc;
    if (due)
        sweep(r);
    for (int i = 0; i < 4; i++) {
        if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw)
            return -EIO;
        rup_token_format(raw, token);
        if (fstatat(r->regfd, token, &sb, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT)
            return fs_rup_save(r, token, st);
    }
    return -EEXIST; /* 128 random bits met four times: the kernel's randomness is broken */
}

int fs_rup_load(struct fs_rup *r, const char *token, const char *rel, struct rup_state *st)
{
    int rc = state_read(r, token, st);

    if (rc < 0)
        return -ENOENT;
    if (strcmp(st->rel, rel) != 0)
        return -ENOENT; /* another target's upload: not this URL's */
    if (expired(r, st, now_s())) {
        fs_rup_forget(r, token, st->rel);
        return -ENOENT;
    }
    return 0;
}

/* ---- who may write ------------------------------------------------------------ */

struct fs_rup_slot *fs_rup_hold(struct fs_rup *r, const char *token, uint64_t *gen)
{
    struct fs_rup_slot *s = NULL, *free_slot = NULL;

    pthread_mutex_lock(&r->mu);
    for (int i = 0; i < SLOTS && s == NULL; i++) {
        struct fs_rup_slot *t = &r->slots[i];
        if (t->refs > 0 && strcmp(t->token, token) == 0)
            s = t;
        else if (t->refs == 0 && free_slot == NULL)
            free_slot = t;
    }
    if (s == NULL && free_slot != NULL) {
        s = free_slot;
        snprintf(s->token, sizeof s->token, "%s", token);
    }
    if (s != NULL)
        s->refs++;
    pthread_mutex_unlock(&r->mu);
    if (s == NULL)
        return NULL;
    /* Waits out a write under way, then no earlier request writes again. */
    pthread_mutex_lock(&s->wmu);
    *gen = ++s->gen;
    pthread_mutex_unlock(&s->wmu);
    return s;
}

void fs_rup_drop(struct fs_rup *r, struct fs_rup_slot *s)
{
    if (s == NULL)
        return;
    pthread_mutex_lock(&r->mu);
    s->refs--;
    pthread_mutex_unlock(&r->mu);
}

int fs_rup_write(struct fs_rup_slot *s, uint64_t gen, struct upload *u, const void *p, size_t n)
{
    pthread_mutex_lock(&s->wmu);
    int rc = s->gen == gen ? upload_write(u, p, n) : -ECANCELED;
    pthread_mutex_unlock(&s->wmu);
    return rc;
}

/* ---- header lines -------------------------------------------------------------- */

void fs_rup_limit(const struct fs_rup *r, const struct rup_state *st, char *out, size_t outsz)
{
    int64_t left = r->max_age;

    if (st != NULL) {
        left = st->created + r->max_age - now_s();
        if (left < 0)
            left = 0;
    }
    snprintf(out, outsz, "Upload-Limit: max-size=%" PRIu64 ", max-age=%" PRId64 "\r\n",
             r->max_size, left);
}

/* ---- HEAD, DELETE, OPTIONS ------------------------------------------------------ */

/* The size of the data beside rel, or -errno. */
static int64_t data_size(struct fs_rup *r, const char *rel, const char *token)
{
    const char *name;
    char partial[64];
    struct stat st;
    int dirfd = fsx_open_parent(r->rootfd, rel, &name);

    if (dirfd < 0)
        return dirfd;
    fs_rup_partial(token, partial);
    int rc = fstatat(dirfd, partial, &st, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
    close(dirfd);
    if (rc == 0 && !S_ISREG(st.st_mode))
        rc = -ELOOP;
    return rc < 0 ? rc : (int64_t)st.st_size;
}

void fs_rup_head(struct conn *c, const char *rel, const char *token)
{
    struct fs_rup *r = c->w->srv->rup;
    struct rup_state st;
    char extra[512], limit[96], length[48] = "";
    uint64_t gen;

    if (fs_rup_load(r, token, rel, &st) < 0) {
        fs_respond_error(c, 404, NULL);
        return;
    }
    /* A request still writing is cut off first, so the offset is final. */
    struct fs_rup_slot *s = fs_rup_hold(r, token, &gen);
    if (s == NULL) {
        fs_respond_error(c, 503, NULL);
        return;
    }
    int64_t offset = st.complete ? st.length : data_size(r, rel, token);
    fs_rup_drop(r, s);
    if (offset < 0) {
        /* The data is gone (deleted by hand?): the upload cannot go on. */
        fs_rup_forget(r, token, rel);
        fs_respond_error(c, 404, NULL);
        return;
    }
    if (st.length >= 0)
        snprintf(length, sizeof length, "Upload-Length: %" PRId64 "\r\n", st.length);
    fs_rup_limit(r, &st, limit, sizeof limit);
    snprintf(extra, sizeof extra,
             "Upload-Offset: %" PRId64 "\r\nUpload-Complete: %s\r\n%s%s"
             "Cache-Control: no-store\r\n",
             offset, st.complete ? "?1" : "?0", length, st.complete ? "" : limit);
    fs_respond(c, &(struct reply){.status = 204, .extra = extra});
}

void fs_rup_delete(struct conn *c, const char *rel, const char *token)
{
    struct fs_rup *r = c->w->srv->rup;
    struct rup_state st;
    uint64_t gen;

    if (fs_rup_load(r, token, rel, &st) < 0) {
        fs_respond_error(c, 404, NULL);
        return;
    }
    struct fs_rup_slot *s = fs_rup_hold(r, token, &gen); /* cuts off a writer */
    if (!st.complete)
        fs_rup_forget(r, token, rel);
    else
        unlinkat(r->regfd, token, 0); /* the file stays: it is the upload's result */
    fs_rup_drop(r, s);
    fs_respond(c, &(struct reply){.status = 204});
}

void fs_rup_options(struct conn *c, const char *rel)
{
    char extra[160], limit[96];

    fs_rup_limit(c->w->srv->rup, NULL, limit, sizeof limit);
    snprintf(extra, sizeof extra, "Accept-Patch: application/partial-upload\r\n%s", limit);
    fs_respond(c, &(struct reply){.status = 204, .allow = fs_allow(c, rel), .extra = extra});
}
