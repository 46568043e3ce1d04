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

#define SLOTS_MAX 65536 /* uploads being touched at once, all parties together */
#define SLOT_BUCKETS 64
#define PARTY_BUCKETS 256
#define SWEEP_BATCH 512 /* directory entries one tick looks at */
#define JUNK_AGE_S 3600 /* a leftover "TOKEN.new" older than this is removed */

struct fs_rup_slot {
    struct fs_rup_slot *prev, *next; /* its bucket (under fs_rup.mu) */
    char token[RUP_TOKEN_LEN + 1];
    char owner[RUP_OWNER_MAX]; /* whose bytes its writes are */
    int refs;                  /* requests holding it (under fs_rup.mu); freed at 0 */
    uint64_t gen;              /* the request that may change the upload (under wmu) */
    pthread_mutex_t wmu;       /* held across the generation check and the change */
};

/* What one party's unfinished uploads hold. */
struct party {
    struct party *next;
    uint64_t count;
    uint64_t bytes;
    char owner[RUP_OWNER_MAX];
};

struct fs_rup {
    int rootfd;
    atomic_int regfd; /* ROOT/.ferry-uploads; -1 until the first upload makes it */
    int64_t max_age;
    uint64_t max_size, max_count, max_bytes;
    pthread_mutex_t mu; /* the slots, the parties */
    size_t nslots;
    struct fs_rup_slot *slots[SLOT_BUCKETS];
    struct party *parties[PARTY_BUCKETS];
    pthread_mutex_t sweep_mu; /* one sweeper at a time (trylock); its cursor */
    DIR *sweep_dir;           /* a pass under way, or NULL */
    int64_t sweep_at;         /* when the next pass starts */
};

static int64_t now_s(void)
{
    return (int64_t)time(NULL);
}

void fs_rup_partial(const char *token, char out[64])
{
    snprintf(out, 64, "%s%s", FS_RUP_PARTIAL, token);
}

static unsigned hash(const char *s)
{
    unsigned h = 2166136261u;

    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

/* ---- parties ------------------------------------------------------------------ */

/* owner's entry (under mu), made when make; NULL when absent or memory is short. */
static struct party *party_get(struct fs_rup *r, const char *owner, bool make)
{
    struct party **head = &r->parties[hash(owner) % PARTY_BUCKETS];

    for (struct party *p = *head; p != NULL; p = p->next)
        if (strcmp(p->owner, owner) == 0)
            return p;
    if (!make)
        return NULL;
    struct party *p = calloc(1, sizeof *p);
    if (p == NULL)
        return NULL;
    snprintf(p->owner, sizeof p->owner, "%s", owner);
    p->next = *head;
    *head = p;
    return p;
}

/* Adds dcount uploads and dbytes bytes to owner's (under mu); an entry
 * that falls to nothing goes. Never below zero: a data file removed by
 * hand may have taken bytes the count still had. */
static void account_locked(struct fs_rup *r, const char *owner, int dcount, int64_t dbytes)
{
    struct party *p = party_get(r, owner, dcount > 0 || dbytes > 0);

    if (p == NULL)
        return;
    if (dcount < 0)
        p->count = p->count > 0 ? p->count - 1 : 0;
    else
        p->count += (uint64_t)dcount;
    if (dbytes < 0)
        p->bytes = p->bytes > (uint64_t)-dbytes ? p->bytes - (uint64_t)-dbytes : 0;
    else
        p->bytes += (uint64_t)dbytes;
    if (p->count == 0 && p->bytes == 0) {
        struct party **pp = &r->parties[hash(owner) % PARTY_BUCKETS];
        while (*pp != p)
            pp = &(*pp)->next;
        *pp = p->next;
        free(p);
    }
}

static void account(struct fs_rup *r, const char *owner, int dcount, int64_t dbytes)
{
    pthread_mutex_lock(&r->mu);
    account_locked(r, owner, dcount, dbytes);
    pthread_mutex_unlock(&r->mu);
}

/* rup_admit for owner now (under mu). */
static enum rup_verdict admit_locked(struct fs_rup *r, const char *owner, bool new_upload,
                                     uint64_t need)
{
    struct party *p = party_get(r, owner, false);

    return rup_admit(p ? p->count : 0, p ? p->bytes : 0, new_upload, need, r->max_count,
                     r->max_bytes);
}

int fs_rup_room(struct fs_rup *r, const char *owner, int64_t need)
{
    pthread_mutex_lock(&r->mu);
    enum rup_verdict v = admit_locked(r, owner, false, need > 0 ? (uint64_t)need : 0);
    pthread_mutex_unlock(&r->mu);
    return v == RUP_GO ? 0 : -EDQUOT;
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
    /* Synced before the rename and the directory after it: a state that
     * says complete is on disk before the data is renamed (fs_rup_commit). */
    if (rc == 0 && fsync(fd) < 0)
        rc = -errno;
    if (close(fd) < 0 && rc == 0)
        rc = -errno;
    if (rc == 0 && renameat(r->regfd, tmp, r->regfd, token) < 0)
        rc = -errno;
    if (rc < 0)
        unlinkat(r->regfd, tmp, 0);
    else
        fsync(r->regfd);
    return rc;
}

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

/* Removes the upload: for an unfinished one its data too, and it stops
 * counting against its owner. Under the upload's lock, or before anyone
 * else can know the token. */
static void remove_upload(struct fs_rup *r, const char *token, const struct rup_state *st)
{
    if (!st->complete) {
        const char *name;
        char partial[64];
        int64_t size = data_size(r, st->rel, token);
        int dirfd = fsx_open_parent(r->rootfd, st->rel, &name);
        fs_rup_partial(token, partial);
        if (dirfd >= 0) {
            unlinkat(dirfd, partial, 0);
            close(dirfd);
        }
        account(r, st->owner, -1, size > 0 ? -size : 0);
    }
    unlinkat(r->regfd, token, 0);
}

/* A state that says complete with its data still beside the target: the
 * server stopped between the two steps of fs_rup_commit. The data was
 * synced before the state was written, so the rename is finished now. A
 * data file that is not a regular file of its own is removed instead. */
static void roll_forward(struct fs_rup *r, const char *token, const struct rup_state *st)
{
    char partial[64];
    struct upload *u;
    bool created;

    fs_rup_partial(token, partial);
    int rc = upload_open_partial(r->rootfd, st->rel, partial, false, &u);
    if (rc == 0) {
        upload_commit(u, &created); /* on failure it removes the data itself */
        return;
    }
    const char *name;
    int dirfd = fsx_open_parent(r->rootfd, st->rel, &name);
    if (dirfd >= 0) {
        unlinkat(dirfd, partial, 0);
        close(dirfd);
    }
}

static bool expired(const struct fs_rup *r, const struct rup_state *st, int64_t now)
{
    /* created is the server's own number, but read from disk: no sum of it. */
    return st->created > now + 86400 || now - st->created > r->max_age;
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

/* ---- who may write ------------------------------------------------------------ */

struct fs_rup_slot *fs_rup_hold(struct fs_rup *r, const char *token, const char *owner,
                                uint64_t *gen)
{
    struct fs_rup_slot **head = &r->slots[hash(token) % SLOT_BUCKETS], *s;

    pthread_mutex_lock(&r->mu);
    for (s = *head; s != NULL; s = s->next)
        if (strcmp(s->token, token) == 0)
            break;
    if (s == NULL && r->nslots < SLOTS_MAX && (s = calloc(1, sizeof *s)) != NULL) {
        snprintf(s->token, sizeof s->token, "%s", token);
        snprintf(s->owner, sizeof s->owner, "%s", owner);
        pthread_mutex_init(&s->wmu, NULL);
        s->next = *head;
        if (*head != NULL)
            (*head)->prev = s;
        *head = s;
        r->nslots++;
    }
    if (s != NULL)
        s->refs++;
    pthread_mutex_unlock(&r->mu);
    if (s == NULL)
        return NULL;
    /* Waits out a change under way, then no earlier request changes it again. */
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
    if (--s->refs == 0) {
        /* Nobody holds it, and only the table (under mu) could give it out. */
        if (s->prev != NULL)
            s->prev->next = s->next;
        else
            r->slots[hash(s->token) % SLOT_BUCKETS] = s->next;
        if (s->next != NULL)
            s->next->prev = s->prev;
        r->nslots--;
        pthread_mutex_destroy(&s->wmu);
        free(s);
    }
    pthread_mutex_unlock(&r->mu);
}

bool fs_rup_lock(struct fs_rup_slot *s, uint64_t gen)
{
    pthread_mutex_lock(&s->wmu);
    return gen == 0 || s->gen == gen;
}

void fs_rup_unlock(struct fs_rup_slot *s)
{
    pthread_mutex_unlock(&s->wmu);
}

int fs_rup_write(struct fs_rup *r, struct fs_rup_slot *s, uint64_t gen, struct upload *u,
                 const void *p, size_t n)
{
    int rc = -ECANCELED;

    if (fs_rup_lock(s, gen)) {
        pthread_mutex_lock(&r->mu);
        bool room = admit_locked(r, s->owner, false, n) == RUP_GO;
        if (room)
            account_locked(r, s->owner, 0, (int64_t)n); /* before the write: no one passes */
        pthread_mutex_unlock(&r->mu);
        uint64_t before = upload_size(u);
        rc = room ? upload_write(u, p, n) : -EDQUOT;
        if (room && upload_size(u) - before < n)
            account(r, s->owner, 0, -(int64_t)(n - (upload_size(u) - before)));
    }
    fs_rup_unlock(s);
    return rc;
}

int fs_rup_truncate(struct fs_rup *r, struct fs_rup_slot *s, uint64_t gen, struct upload *u,
                    uint64_t size)
{
    int rc = -ECANCELED;

    if (fs_rup_lock(s, gen)) {
        uint64_t before = upload_size(u);
        rc = upload_truncate(u, size);
        if (rc == 0 && before > size)
            account(r, s->owner, 0, -(int64_t)(before - size));
    }
    fs_rup_unlock(s);
    return rc;
}

int fs_rup_commit(struct fs_rup *r, const char *token, struct rup_state *st, struct upload *u,
                  bool *created)
{
    int64_t size = (int64_t)upload_size(u);

    /* The data first, then the state that says complete: from here on the
     * upload is complete, and a restart finishes the rename (roll_forward). */
    if (fsync(upload_fd(u)) < 0) {
        int rc = -errno;
        upload_release(u); /* the upload goes on from what it has */
        return rc;
    }
    st->complete = true;
    st->length = size;
    int rc = fs_rup_save(r, token, st);
    if (rc < 0) {
        st->complete = false;
        upload_release(u);
        return rc;
    }
    rc = upload_commit(u, created);
    if (rc < 0) {
        /* The rename failed and upload_commit removed the data: the upload
         * failed as a whole, and its state goes too. */
        unlinkat(r->regfd, token, 0);
    }
    account(r, st->owner, -1, -size);
    return rc;
}

void fs_rup_discard(struct fs_rup *r, struct fs_rup_slot *s, uint64_t gen, const char *token,
                    const struct rup_state *st)
{
    if (s == NULL) {
        remove_upload(r, token, st);
        return;
    }
    if (fs_rup_lock(s, gen)) /* else a later request has the upload now */
        remove_upload(r, token, st);
    fs_rup_unlock(s);
}

/* ---- expiry ---------------------------------------------------------------------- */

/* Removes token's upload if it has expired, under its lock (a request
 * still writing to it is cut off). */
static void expire(struct fs_rup *r, const char *token)
{
    struct rup_state st;
    uint64_t gen;

    if (state_read(r, token, &st) < 0 || !expired(r, &st, now_s()))
        return;
    struct fs_rup_slot *s = fs_rup_hold(r, token, st.owner, &gen);
    if (s == NULL)
        return; /* the next sweep */
    fs_rup_lock(s, 0);
    if (state_read(r, token, &st) == 0 && expired(r, &st, now_s()))
        remove_upload(r, token, &st);
    fs_rup_unlock(s);
    fs_rup_drop(r, s);
}

/* One directory entry of the state directory. At start (starting: no
 * request yet) unfinished uploads are counted against their owners and
 * completions cut short are finished; any junk goes. */
static void sweep_entry(struct fs_rup *r, const char *name, bool starting, int64_t now)
{
    struct rup_state st;
    struct stat sb;

    if (name[0] == '.')
        return;
    if (!token_name(name)) {
        /* A ".new" left by a crash, or junk; one being written now is young. */
        if (starting || (fstatat(r->regfd, name, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
                         now - (int64_t)sb.st_mtime > JUNK_AGE_S))
            unlinkat(r->regfd, name, 0);
        return;
    }
    if (state_read(r, name, &st) < 0) {
        unlinkat(r->regfd, name, 0); /* states are written whole (renamed): this is junk */
        return;
    }
    if (starting) {
        int64_t size = data_size(r, st.rel, name);
        if (rup_found(&st, size >= 0) == RUP_ROLL_FORWARD)
            roll_forward(r, name, &st);
        if (!st.complete)
            account(r, st.owner, 1, size > 0 ? size : 0);
        if (expired(r, &st, now))
            remove_upload(r, name, &st);
        return;
    }
    expire(r, name);
}

void fs_rup_tick(struct fs_rup *r)
{
    int64_t now = now_s();
    struct dirent *de;

    if (r == NULL || r->regfd < 0 || pthread_mutex_trylock(&r->sweep_mu) != 0)
        return;
    if (r->sweep_dir == NULL && now >= r->sweep_at) {
        int fd = openat(r->regfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        r->sweep_dir = fd >= 0 ? fdopendir(fd) : NULL;
        if (r->sweep_dir == NULL && fd >= 0)
            close(fd);
        r->sweep_at = now + rup_sweep_every(r->max_age);
    }
    /* A bounded batch per tick; a large directory takes a few ticks. */
    for (int i = 0; r->sweep_dir != NULL && i < SWEEP_BATCH; i++) {
        de = readdir(r->sweep_dir);
        if (de == NULL) {
            closedir(r->sweep_dir);
            r->sweep_dir = NULL;
            break;
        }
        sweep_entry(r, de->d_name, false, now);
    }
    pthread_mutex_unlock(&r->sweep_mu);
}

/* ---- the store ------------------------------------------------------------------- */

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

int fs_rup_open(int rootfd, const struct fs_options *o, struct fs_rup **out)
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
    r->max_age = o->upload_max_age_s;
    r->max_size = o->max_upload;
    r->max_count = o->upload_max_unfinished;
    r->max_bytes = o->upload_max_unfinished_bytes;
    if (r->max_bytes == 0) /* the default: two of the largest upload */
        r->max_bytes = o->max_upload > UINT64_MAX / 2 ? UINT64_MAX : o->max_upload * 2;
    pthread_mutex_init(&r->mu, NULL);
    pthread_mutex_init(&r->sweep_mu, NULL);
    if (r->regfd >= 0) {
        int fd = openat(r->regfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
        struct dirent *de;
        if (d == NULL && fd >= 0)
            close(fd);
        while (d != NULL && (de = readdir(d)) != NULL)
            sweep_entry(r, de->d_name, true, now_s());
        if (d != NULL)
            closedir(d);
    }
    r->sweep_at = now_s() + rup_sweep_every(r->max_age);
    *out = r;
    return 0;
}

void fs_rup_close(struct fs_rup *r)
{
    if (r == NULL)
        return;
    for (int i = 0; i < SLOT_BUCKETS; i++)
        while (r->slots[i] != NULL) {
            struct fs_rup_slot *s = r->slots[i];
            r->slots[i] = s->next;
            pthread_mutex_destroy(&s->wmu);
            free(s);
        }
    for (int i = 0; i < PARTY_BUCKETS; i++)
        while (r->parties[i] != NULL) {
            struct party *p = r->parties[i];
            r->parties[i] = p->next;
            free(p);
        }
    if (r->sweep_dir != NULL)
        closedir(r->sweep_dir);
    pthread_mutex_destroy(&r->sweep_mu);
    pthread_mutex_destroy(&r->mu);
    if (r->regfd >= 0)
        close(r->regfd);
    free(r);
}

int fs_rup_create(struct fs_rup *r, const struct rup_state *st, int64_t need,
                  char token[RUP_TOKEN_LEN + 1])
{
    unsigned char raw[16];
    struct stat sb;

    pthread_mutex_lock(&r->mu);
    int rc = state_dir(r, true);
    enum rup_verdict v = admit_locked(r, st->owner, true, need > 0 ? (uint64_t)need : 0);
    if (rc == 0 && v == RUP_GO)
        account_locked(r, st->owner, 1, 0); /* taken now, so no two pass the bound together */
    pthread_mutex_unlock(&r->mu);
    if (rc < 0)
        return rc;
    if (v != RUP_GO)
        return v == RUP_TOO_MANY ? -EUSERS : -EDQUOT;
    for (int i = 0; i < 4; i++) {
        if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw)
            break;
        rup_token_format(raw, token);
        if (fstatat(r->regfd, token, &sb, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT) {
            rc = fs_rup_save(r, token, st);
            if (rc < 0)
                account(r, st->owner, -1, 0);
            return rc;
        }
    }
    /* No randomness, or 128 random bits met four times: the kernel's is broken. */
    account(r, st->owner, -1, 0);
    return -EIO;
}

/* The state of token's upload for rel: 0, or -ENOENT (none for that
 * target), or -ETIME (expired). */
static int load(struct fs_rup *r, const char *token, const char *rel, struct rup_state *st)
{
    if (state_read(r, token, st) < 0 || strcmp(st->rel, rel) != 0)
        return -ENOENT; /* none, or another target's upload: not this URL's */
    return expired(r, st, now_s()) ? -ETIME : 0;
}

int fs_rup_load(struct fs_rup *r, const char *token, const char *rel, struct rup_state *st)
{
    int rc = load(r, token, rel, st);

    if (rc == -ETIME)
        expire(r, token);
    return rc < 0 ? -ENOENT : 0;
}

enum rup_found fs_rup_find(struct fs_rup *r, const char *token, const char *rel,
                           struct rup_state *st, int64_t *offset)
{
    if (load(r, token, rel, st) < 0)
        return RUP_LOST;
    int64_t size = data_size(r, rel, token);
    enum rup_found f = rup_found(st, size >= 0);
    if (f == RUP_ROLL_FORWARD) {
        roll_forward(r, token, st);
        f = RUP_DONE;
    }
    *offset = f == RUP_DONE ? st->length : size;
    return f;
}

/* ---- header lines -------------------------------------------------------------- */

void fs_rup_limit(const struct fs_rup *r, const struct rup_state *st, char *out, size_t outsz)
{
    int64_t left = r->max_age, now = now_s();

    if (st != NULL) {
        /* expired() has held: created is within a day of now, no sum overflows. */
        left = st->created > now + 86400 || now - st->created >= r->max_age
                   ? 0
                   : r->max_age - (now - st->created);
        if (left > r->max_age)
            left = r->max_age;
    }
    snprintf(out, outsz, "Upload-Limit: max-size=%" PRIu64 ", max-age=%" PRId64 "\r\n",
             r->max_size, left);
}

/* ---- HEAD, DELETE, OPTIONS ------------------------------------------------------ */

void fs_rup_head(struct conn *c, const char *rel, const char *token)
{
    struct fs_rup *r = c->w->srv->rup;
    struct rup_state st;
    char extra[512], limit[96], length[48] = "";
    uint64_t gen;
    int64_t offset = 0;

    if (fs_rup_load(r, token, rel, &st) < 0) {
        fs_respond_error(c, 404, NULL);
        return;
    }
    /* A request still writing is cut off first, so the offset is final;
     * and under the lock a completion is seen whole or not at all. */
    struct fs_rup_slot *s = fs_rup_hold(r, token, st.owner, &gen);
    if (s == NULL) {
        fs_respond_error(c, 503, NULL);
        return;
    }
    fs_rup_lock(s, 0);
    enum rup_found f = fs_rup_find(r, token, rel, &st, &offset);
    fs_rup_unlock(s);
    fs_rup_drop(r, s);
    if (f == RUP_LOST) {
        /* Gone, or its data is (deleted by hand?): nothing to resume. What
         * is left is removed when it expires. */
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
    int64_t offset;

    if (fs_rup_load(r, token, rel, &st) < 0) {
        fs_respond_error(c, 404, NULL);
        return;
    }
    struct fs_rup_slot *s = fs_rup_hold(r, token, st.owner, &gen); /* cuts off a writer */
    if (s == NULL) {
        fs_respond_error(c, 503, NULL);
        return;
    }
    fs_rup_lock(s, 0);
    /* Lost or not, the client gives it up; a complete one's file stays. */
    bool there =
        fs_rup_find(r, token, rel, &st, &offset) != RUP_LOST || load(r, token, rel, &st) == 0;
    if (there)
        remove_upload(r, token, &st);
    fs_rup_unlock(s);
    fs_rup_drop(r, s);
    if (!there)
        fs_respond_error(c, 404, NULL);
    else
        fs_respond(c, &(struct reply){.status = 204});
}

void fs_rup_options(struct conn *c, const char *rel)
{
    char extra[256], limit[96];

    fs_rup_limit(c->w->srv->rup, NULL, limit, sizeof limit);
    snprintf(extra, sizeof extra, "Accept-Patch: application/partial-upload\r\n%s%s", limit,
             FS_DAV_HEADERS);
    fs_respond(c, &(struct reply){.status = 204, .allow = fs_allow(c, rel), .extra = extra});
}
