/* Accounts and rights for the file server: the loaded --auth file, the
 * gate every request passes, the rights gate every handler asks with the
 * object it acts on (fs_auth_may_fd, fs_auth_may_at), the crypt threads and their queue, the cache
 * of verified credentials and the per-address failure counts. The map is
 * in serve/fs_auth.h.
 *
 * One mutex guards the queue, the free job slots, the ports' done lists,
 * the cache and the failure table; it is held for table lookups only,
 * never while crypt runs. */
#include "serve/fs_auth.h"

#include <crypt.h>
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "serve/fs.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/fsx.h"
#include "net/mbox.h"
#include "proto/path.h"

#define AUTH_FILE_MAX (4u << 20)
#define KEY_LEN 32
#define WAYS 8     /* slots probed in the cache and the failure table */
#define WAITERS 32 /* connections of one worker waiting for the same check */

struct fs_auth_job {
    struct fs_auth_job *next;
    struct conn *c[WAITERS];   /* who waits for it, NULL where one went away */
    size_t nc;                 /* slots of c used */
    struct fs_auth_port *port; /* where the verdict goes */
    int user;                  /* index in users, or -1: checked against a dummy */
    size_t dummy;              /* with user -1: the index in dummies */
    bool ok;
    unsigned char key[KEY_LEN];
    unsigned char addr[16];
    char pass[AUTH_CRED_MAX + 1];
};

struct fs_auth_port {
    struct mbox mb;
    struct worker *w;
    struct fs_auth *a;
    struct fs_auth_job *done; /* verdicts not yet delivered, under a->mu */
};

struct cache_slot {
    bool used;
    int user;
    int64_t last;
    unsigned char key[KEY_LEN];
};

struct client {
    bool used;
    uint16_t fails;
    uint16_t inflight;
    int64_t first, blocked_until, last;
    unsigned char addr[16];
};

struct fs_auth {
    struct auth_entry *users;
    size_t nusers;
    int anon; /* index of "*", or -1 */
    /* Settings that unknown users are checked against: one per account
     * with a password, of its scheme and cost (a yescrypt one when there
     * is none), so that an unknown name costs what a known one does. */
    char (*dummies)[AUTH_HASH_MAX + 1];
    size_t ndummies;
    unsigned char key[KEY_LEN];
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stopping;
    int nthreads;
    pthread_t threads[FS_AUTH_THREADS];
    struct fs_auth_job *queue, *queue_tail, *free_jobs;
    struct fs_auth_job jobs[FS_AUTH_QUEUE];
    struct cache_slot cache[FS_AUTH_CACHE];
    struct client clients[FS_AUTH_CLIENTS];
};

/* ---- loading ------------------------------------------------------------ */

static int find_user(const struct fs_auth *a, const char *name, size_t len)
{
    for (size_t i = 0; i < a->nusers; i++)
        if (strlen(a->users[i].user) == len && memcmp(a->users[i].user, name, len) == 0)
            return (int)i;
    return -1;
}

/* Fills a->dummies: for each account with a password, its scheme and cost
 * with a fresh salt (proto/auth's auth_dummy_setting); a yescrypt setting
 * of ferry passwd's cost when no account has one. Returns 0 or -errno. */
static int make_dummies(struct fs_auth *a)
{
    char fresh[CRYPT_GENSALT_OUTPUT_SIZE], id[8];

    a->dummies = calloc(a->nusers > 0 ? a->nusers : 1, sizeof *a->dummies);
    if (a->dummies == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < a->nusers; i++) {
        const char *h = a->users[i].hash;
        size_t hl = strlen(h);
        if (hl == 0)
            continue;
        /* crypt_gensalt wants the scheme id alone: "$6$", "$2b$", "$y$" */
        const char *end = memchr(h + 1, '$', hl - 1);
        size_t il = end != NULL ? (size_t)(end - h) + 1 : 0;
        if (il == 0 || il >= sizeof id)
            return -EINVAL;
        memcpy(id, h, il);
        id[il] = '\0';
        if (crypt_gensalt_rn(id, 0, NULL, 0, fresh, sizeof fresh) == NULL)
            return -EIO;
        char *d = a->dummies[a->ndummies];
        int n = auth_dummy_setting(h, hl, fresh, strlen(fresh), d, sizeof a->dummies[0]);
        if (n < 0)
            return n;
        if (crypt_checksalt(d) != CRYPT_SALT_OK)
            return -EINVAL;
        a->ndummies++;
    }
    if (a->ndummies == 0) {
        if (crypt_gensalt_rn("$y$", 0, NULL, 0, a->dummies[0], sizeof a->dummies[0]) == NULL)
            return -EIO;
        a->ndummies = 1;
    }
    return 0;
}

/* Which dummy an unknown user name[0..len) is checked against: a keyed
 * hash of the name picks one, so the same name always costs the same and
 * the costs of unknown names are spread as the accounts' are. */
static size_t dummy_for(const struct fs_auth *a, const char *name, size_t len)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int ml = sizeof mac;
    uint64_t h = 0;

    if (a->ndummies == 1)
        return 0;
    if (HMAC(EVP_sha256(), a->key, KEY_LEN, (const unsigned char *)name, len, mac, &ml) != NULL)
        memcpy(&h, mac, sizeof h);
    return (size_t)(h % a->ndummies);
}

int fs_auth_load(const char *path, struct fs_auth **out, char *msg, size_t msgsz)
{
    char *text = NULL;
    size_t len = 0, lines = 1, lineno = 0;
    int rc = fsx_read_file(path, AUTH_FILE_MAX, &text, &len);

    if (rc < 0) {
        snprintf(msg, msgsz, "%s: cannot read the auth file: %s", path, fe_strerror(rc));
        return rc;
    }
    for (size_t i = 0; i < len; i++)
        lines += text[i] == '\n';
    struct fs_auth *a = calloc(1, sizeof *a);
    if (a != NULL)
        a->users = calloc(lines, sizeof *a->users);
    if (a == NULL || a->users == NULL) {
        rc = -ENOMEM;
        snprintf(msg, msgsz, "%s: out of memory", path);
        goto fail;
    }
    a->anon = -1;
    for (size_t pos = 0; pos < len || (pos == 0 && len == 0);) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t ll = nl ? (size_t)(nl - (text + pos)) : len - pos;
        const char *why = "";
        struct auth_entry *e = &a->users[a->nusers];
        lineno++;
        int r = auth_parse_line(text + pos, ll, e, &why);
        pos += ll + 1;
        if (r == 0)
            continue;
        rc = -EINVAL;
        if (r < 0) {
            snprintf(msg, msgsz, "%s:%zu: %s", path, lineno, why);
            goto fail;
        }
        if (find_user(a, e->user, strlen(e->user)) >= 0) {
            snprintf(msg, msgsz, "%s:%zu: user %s is already on an earlier line", path, lineno,
                     e->user);
            goto fail;
        }
        if (e->hash[0] != '\0' && crypt_checksalt(e->hash) != CRYPT_SALT_OK) {
            snprintf(msg, msgsz, "%s:%zu: this libxcrypt does not accept that hash", path, lineno);
            goto fail;
        }
        if (strcmp(e->user, AUTH_ANON) == 0)
            a->anon = (int)a->nusers;
        a->nusers++;
    }
    rc = make_dummies(a);
    if (rc < 0 || getrandom(a->key, sizeof a->key, 0) != (ssize_t)sizeof a->key) {
        rc = rc < 0 ? rc : -EIO;
        snprintf(msg, msgsz, "%s: cannot make the salts or the key: %s", path, fe_strerror(rc));
        goto fail;
    }
    pthread_mutex_init(&a->mu, NULL);
    pthread_cond_init(&a->cv, NULL);
    free(text);
    *out = a;
    return 0;

fail:
    free(text);
    if (a != NULL) {
        free(a->users);
        free(a->dummies);
    }
    free(a);
    return rc;
}

void fs_auth_free(struct fs_auth *a)
{
    if (a == NULL)
        return;
    pthread_mutex_destroy(&a->mu);
    pthread_cond_destroy(&a->cv);
    free(a->users);
    free(a->dummies);
    explicit_bzero(a, sizeof *a);
    free(a);
}

/* ---- rights: the one gate ------------------------------------------------- */

bool fs_auth_may(const struct fs_server *s, const char *user, const char *spelled, const char *real,
                 enum auth_right need)
{
    const struct fs_auth *a = s->opt.auth;
    const struct auth_entry *own = NULL;

    if (need == AUTH_WRITE && !s->opt.upload)
        return false;
    if (a == NULL)
        return true;
    if (user != NULL && user[0] != '\0' && strcmp(user, AUTH_ANON) != 0) {
        int i = find_user(a, user, strlen(user));
        if (i >= 0)
            own = &a->users[i];
    }
    return auth_allows(own, a->anon >= 0 ? &a->users[a->anon] : NULL, spelled, real, need);
}

bool fs_auth_may_fd(const struct fs_server *s, const char *user, const char *spelled, int fd,
                    enum auth_right need)
{
    char real[PATH_MAX_LEN + 16];

    if (s->opt.auth == NULL) /* no readlink on the way without accounts */
        return fs_auth_may(s, user, spelled, NULL, need);
    if (fsx_real_rel(s->rootfd, fd, real, sizeof real) < 0)
        return false;
    return fs_auth_may(s, user, spelled, real, need);
}

bool fs_auth_may_at(const struct fs_server *s, const char *user, const char *spelled, int dirfd,
                    const char *name, enum auth_right need)
{
    char real[PATH_MAX_LEN + 16];

    if (s->opt.auth == NULL)
        return fs_auth_may(s, user, spelled, NULL, need);
    if (fsx_real_rel(s->rootfd, dirfd, real, sizeof real) < 0)
        return false;
    size_t dl = strcmp(real, ".") == 0 ? 0 : strlen(real);
    size_t nl = strlen(name);
    if (dl + 1 + nl >= sizeof real)
        return false;
    if (dl > 0)
        real[dl++] = '/';
    memcpy(real + dl, name, nl + 1);
    return fs_auth_may(s, user, spelled, real, need);
}

int fs_auth_open_parent(const struct fs_server *s, const char *user, const char *rel,
                        enum auth_right need, const char **name)
{
    int dirfd = fsx_open_parent(s->rootfd, rel, name);

    if (dirfd >= 0 && !fs_auth_may_at(s, user, rel, dirfd, *name, need)) {
        close(dirfd);
        return -EACCES;
    }
    return dirfd;
}

/* ---- the cache and the failure table (under a->mu) ------------------------ */

static size_t slot_of(const unsigned char *k, size_t n)
{
    uint64_t h;

    memcpy(&h, k, sizeof h);
    return (size_t)(h % n);
}

static int cache_get(struct fs_auth *a, const unsigned char *key, int64_t now)
{
    size_t s = slot_of(key, FS_AUTH_CACHE);

    for (size_t i = 0; i < WAYS; i++) {
        struct cache_slot *c = &a->cache[(s + i) % FS_AUTH_CACHE];
        if (c->used && auth_ct_equal(c->key, key, KEY_LEN)) {
            c->last = now;
            return c->user;
        }
    }
    return -1;
}

static void cache_put(struct fs_auth *a, const unsigned char *key, int user, int64_t now)
{
    size_t s = slot_of(key, FS_AUTH_CACHE);
    struct cache_slot *victim = NULL;

    for (size_t i = 0; i < WAYS; i++) {
        struct cache_slot *c = &a->cache[(s + i) % FS_AUTH_CACHE];
        if (!c->used || victim == NULL || (victim->used && c->last < victim->last))
            victim = c;
        if (!c->used)
            break;
    }
    victim->used = true;
    victim->user = user;
    victim->last = now;
    memcpy(victim->key, key, KEY_LEN);
}

/* The client's slot, a new one when create (the least recently seen of its
 * ways that is neither blocked nor waiting), or NULL. */
static struct client *client_find(struct fs_auth *a, const unsigned char *addr, int64_t now,
                                  bool create)
{
    unsigned char k[16];
    struct client *victim = NULL;

    /* The slot comes from a keyed mix, so a peer cannot aim at another's. */
    for (size_t i = 0; i < 16; i++)
        k[i] = (unsigned char)(addr[i] ^ a->key[i]);
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < 16; i++)
        h = (h ^ k[i]) * 1099511628211ull;
    size_t s = (size_t)(h % FS_AUTH_CLIENTS);
    for (size_t i = 0; i < WAYS; i++) {
        struct client *c = &a->clients[(s + i) % FS_AUTH_CLIENTS];
        if (c->used && memcmp(c->addr, addr, 16) == 0) {
            c->last = now;
            return c;
        }
        bool busy = c->used && (c->blocked_until > now || c->inflight > 0);
        if (!busy && (victim == NULL || !c->used || (victim->used && c->last < victim->last)))
            victim = c;
    }
    if (!create || victim == NULL)
        return NULL;
    memset(victim, 0, sizeof *victim);
    victim->used = true;
    victim->last = now;
    memcpy(victim->addr, addr, 16);
    return victim;
}

/* Seconds until addr may try again, or 0. */
static int64_t client_blocked(struct fs_auth *a, const unsigned char *addr, int64_t now)
{
    struct client *c = client_find(a, addr, now, false);

    if (c == NULL)
        return 0;
    if (c->blocked_until > now)
        return (c->blocked_until - now + 999) / 1000;
    if (c->fails > 0 && now - c->first > FS_AUTH_WINDOW_MS)
        c->fails = 0;
    /* Checks under way count as failures until they say otherwise, so a
     * burst of parallel guesses cannot run past the limit. */
    return c->fails + c->inflight >= FS_AUTH_FAILS ? 1 : 0;
}

static void client_result(struct fs_auth *a, const unsigned char *addr, bool ok, int64_t now)
{
    struct client *c = client_find(a, addr, now, !ok);

    if (c == NULL)
        return;
    if (c->inflight > 0)
        c->inflight--;
    if (ok)
        return;
    if (c->fails == 0 || now - c->first > FS_AUTH_WINDOW_MS) {
        c->fails = 0;
        c->first = now;
    }
    if (++c->fails >= FS_AUTH_FAILS) {
        c->blocked_until = now + FS_AUTH_BLOCK_MS;
        c->fails = 0;
    }
}

/* IPv4 as mapped IPv6; IPv6 by its /64, which one host usually holds whole. */
static void client_addr(const struct conn *c, unsigned char out[16])
{
    memset(out, 0, 16);
    if (c->peer.sa.sa_family == AF_INET) {
        out[10] = out[11] = 0xff;
        memcpy(out + 12, &c->peer.in.sin_addr, 4);
    } else if (c->peer.sa.sa_family == AF_INET6) {
        const unsigned char *b = c->peer.in6.sin6_addr.s6_addr;
        if (IN6_IS_ADDR_V4MAPPED(&c->peer.in6.sin6_addr))
            memcpy(out, b, 16);
        else
            memcpy(out, b, 8);
    }
}

/* ---- the crypt threads ---------------------------------------------------- */

static void *crypt_thread(void *arg)
{
    struct fs_auth *a = arg;
    struct crypt_data *cd = calloc(1, sizeof *cd);

    pthread_mutex_lock(&a->mu);
    for (;;) {
        while (!a->stopping && a->queue == NULL)
            pthread_cond_wait(&a->cv, &a->mu);
        if (a->stopping)
            break;
        struct fs_auth_job *j = a->queue;
        a->queue = j->next;
        if (a->queue == NULL)
            a->queue_tail = NULL;
        size_t waiting = 0;
        for (size_t i = 0; i < j->nc; i++)
            waiting += j->c[i] != NULL;
        if (waiting == 0) {
            /* Gone before its turn: nobody hears the answer. */
            client_result(a, j->addr, true, clock_ms());
            explicit_bzero(j->pass, sizeof j->pass);
            j->nc = 0;
            j->next = a->free_jobs;
            a->free_jobs = j;
            continue;
        }
        pthread_mutex_unlock(&a->mu);

        const char *hash = j->user >= 0 ? a->users[j->user].hash : a->dummies[j->dummy];
        const char *got = cd != NULL ? crypt_rn(j->pass, hash, cd, sizeof *cd) : NULL;
        size_t hl = strlen(hash);
        j->ok = got != NULL && j->user >= 0 && strlen(got) == hl && auth_ct_equal(got, hash, hl);
        explicit_bzero(j->pass, sizeof j->pass);
        if (cd != NULL)
            explicit_bzero(cd->output, sizeof cd->output);

        pthread_mutex_lock(&a->mu);
        int64_t now = clock_ms();
        client_result(a, j->addr, j->ok, now);
        if (j->ok)
            cache_put(a, j->key, j->user, now);
        j->next = j->port->done;
        j->port->done = j;
        mbox_post(&j->port->mb);
    }
    pthread_mutex_unlock(&a->mu);
    free(cd);
    return NULL;
}

int fs_auth_start(struct fs_auth *a)
{
    a->stopping = false;
    a->queue = a->queue_tail = a->free_jobs = NULL;
    for (size_t i = 0; i < FS_AUTH_QUEUE; i++) {
        a->jobs[i].nc = 0;
        a->jobs[i].next = a->free_jobs;
        a->free_jobs = &a->jobs[i];
    }
    for (a->nthreads = 0; a->nthreads < FS_AUTH_THREADS; a->nthreads++) {
        int rc = pthread_create(&a->threads[a->nthreads], NULL, crypt_thread, a);
        if (rc != 0) {
            fs_auth_stop(a);
            return -rc;
        }
    }
    return 0;
}

void fs_auth_stop(struct fs_auth *a)
{
    if (a == NULL || a->nthreads == 0)
        return;
    pthread_mutex_lock(&a->mu);
    a->stopping = true;
    pthread_cond_broadcast(&a->cv);
    pthread_mutex_unlock(&a->mu);
    for (int i = 0; i < a->nthreads; i++)
        pthread_join(a->threads[i], NULL);
    a->nthreads = 0;
}

/* ---- verdicts back on the worker ------------------------------------------ */

static void port_cb(struct mbox *m)
{
    struct fs_auth_port *p = container_of(m, struct fs_auth_port, mb);
    struct fs_auth *a = p->a;

    pthread_mutex_lock(&a->mu);
    struct fs_auth_job *j = p->done;
    p->done = NULL;
    pthread_mutex_unlock(&a->mu);
    while (j != NULL) {
        struct fs_auth_job *next = j->next;
        struct conn *cs[WAITERS];
        size_t nc = j->nc;
        bool ok = j->ok;
        int user = j->user;
        memcpy(cs, j->c, nc * sizeof cs[0]);
        pthread_mutex_lock(&a->mu);
        j->nc = 0;
        j->next = a->free_jobs;
        a->free_jobs = j;
        pthread_mutex_unlock(&a->mu);
        /* Every waiter is detached before any runs: a drive may close
         * another waiter, which must not touch the freed job. */
        for (size_t i = 0; i < nc; i++)
            if (cs[i] != NULL)
                cs[i]->job = NULL;
        for (size_t i = 0; i < nc; i++) {
            struct conn *c = cs[i];
            if (c == NULL)
                continue;
            c->x->auth = ok ? FS_AUTH_GOOD : FS_AUTH_BAD;
            if (ok)
                snprintf(c->x->user, sizeof c->x->user, "%s", a->users[user].user);
            fs_conn_drive(c);
        }
        j = next;
    }
}

int fs_auth_port_open(struct fs_auth *a, struct worker *w)
{
    struct fs_auth_port *p = calloc(1, sizeof *p);

    if (p == NULL)
        return -ENOMEM;
    p->a = a;
    p->w = w;
    int rc = mbox_open(&p->mb, w->loop, port_cb);
    if (rc < 0) {
        free(p);
        return rc;
    }
    w->auth_port = p;
    return 0;
}

void fs_auth_port_close(struct worker *w)
{
    struct fs_auth_port *p = w->auth_port;

    if (p == NULL)
        return;
    w->auth_port = NULL;
    mbox_close(&p->mb);
    free(p);
}

void fs_auth_cancel(struct conn *c)
{
    struct fs_auth *a = c->w->srv->opt.auth;

    if (c->job == NULL)
        return;
    pthread_mutex_lock(&a->mu);
    for (size_t i = 0; i < c->job->nc; i++)
        if (c->job->c[i] == c)
            c->job->c[i] = NULL;
    pthread_mutex_unlock(&a->mu);
    c->job = NULL;
}

/* ---- the gate ------------------------------------------------------------- */

/* Answers status with the extra header lines and a short page saying text. */
static enum fs_auth_gate answer(struct conn *c, int status, const char *extra, const char *text)
{
    fs_respond_page(c, status, NULL, extra, text);
    return FS_GATE_ANSWERED;
}

static enum fs_auth_gate challenge(struct conn *c)
{
    return answer(c, 401, "WWW-Authenticate: Basic realm=\"ferry\", charset=\"UTF-8\"\r\n",
                  "This needs a user name and password.");
}

static enum fs_auth_gate plain_refused(struct conn *c)
{
    return answer(c, 403, NULL,
                  "Passwords are not asked for or accepted over plain HTTP from another host: "
                  "use https://.");
}

static enum fs_auth_gate rights(struct conn *c, const char *rel, enum auth_right need)
{
    if (fs_auth_may(c->w->srv, c->x->user, rel, NULL, need))
        return FS_GATE_PASS;
    return answer(c, 403, NULL,
                  need == AUTH_WRITE ? "This account may not write here."
                                     : "This account may not read here.");
}

static void cred_key(const struct fs_auth *a, const struct auth_cred *cr, unsigned char *out)
{
    unsigned char msg[AUTH_CRED_MAX + 2];
    unsigned int len = KEY_LEN;

    /* user NUL password: no two pairs give the same message */
    memcpy(msg, cr->user, cr->user_len);
    msg[cr->user_len] = '\0';
    memcpy(msg + cr->user_len + 1, cr->pass, cr->pass_len);
    if (HMAC(EVP_sha256(), a->key, KEY_LEN, msg, cr->user_len + 1 + cr->pass_len, out, &len) ==
        NULL)
        memset(out, 0, KEY_LEN); /* never matches a real key: a miss */
    explicit_bzero(msg, sizeof msg);
}

/* c waits for j in CS_AUTH, off the socket (level-triggered input would
 * spin), under the head deadline. */
static enum fs_auth_gate wait_for(struct conn *c, struct fs_auth_job *j, int64_t now)
{
    int64_t limit = now + c->w->srv->opt.head_timeout_ms;

    c->job = j;
    fs_conn_set_state(c, CS_AUTH);
    ev_io_stop(c->w->loop, &c->io);
    if (c->sc.deadline == 0 || c->sc.deadline > limit)
        c->sc.deadline = limit;
    return FS_GATE_WAIT;
}

/* The Authorization value, p == NULL when absent; *twice when the field
 * comes more than once (which of them a proxy saw is anybody's guess). */
static struct http_str authorization(const struct http_request *req, bool *twice)
{
    struct http_str v = {NULL, 0};

    *twice = false;
    for (size_t i = 0; i < req->nheaders; i++)
        if (http_str_ieq(req->headers[i].name.p, req->headers[i].name.len, "authorization")) {
            *twice = v.p != NULL;
            if (*twice)
                break;
            v = req->headers[i].value;
        }
    return v;
}

enum fs_auth_gate fs_auth_gate(struct conn *c, const struct http_request *req, const char *rel,
                               enum auth_right need)
{
    struct fs_server *s = c->w->srv;
    struct fs_auth *a = s->opt.auth;
    struct xchg *x = c->x;
    char buf[AUTH_CRED_MAX + 1];
    char retry[48];
    struct auth_cred cr;
    unsigned char addr[16], key[KEY_LEN];

    if (a == NULL)
        return FS_GATE_PASS;
    if (x->auth == FS_AUTH_BAD)
        return challenge(c);
    if (x->auth == FS_AUTH_GOOD)
        return rights(c, rel, need);
    bool may_ask = fs_conn_secure(c) || (c->flags & FL_LOOPBACK) || s->opt.allow_plain_auth;
    bool twice;
    struct http_str v = authorization(req, &twice);
    if (twice)
        return answer(c, 400, NULL, "Authorization came more than once.");
    if (v.p == NULL) {
        if (fs_auth_may(s, NULL, rel, NULL, need))
            return FS_GATE_PASS;
        return may_ask ? challenge(c) : plain_refused(c);
    }
    if (!may_ask)
        return plain_refused(c);
    enum auth_basic_result br = auth_basic_parse(v.p, v.len, buf, sizeof buf, &cr);
    if (br == AUTH_BASIC_SCHEME)
        return challenge(c);
    if (br != AUTH_BASIC_OK)
        return answer(c, 400, NULL, "The Authorization header is not valid Basic credentials.");
    int user = auth_user_valid(cr.user, cr.user_len) ? find_user(a, cr.user, cr.user_len) : -1;
    cred_key(a, &cr, key);
    client_addr(c, addr);
    int64_t now = c->w->loop->now;

    pthread_mutex_lock(&a->mu);
    int64_t wait_s = client_blocked(a, addr, now);
    if (wait_s > 0) {
        pthread_mutex_unlock(&a->mu);
        explicit_bzero(buf, sizeof buf);
        snprintf(retry, sizeof retry, "Retry-After: %lld\r\n", (long long)wait_s);
        return answer(c, 429, retry, "Too many failed logins from this address: try later.");
    }
    if (user >= 0 && cache_get(a, key, now) == user) {
        pthread_mutex_unlock(&a->mu);
        explicit_bzero(buf, sizeof buf);
        snprintf(x->user, sizeof x->user, "%s", a->users[user].user);
        x->auth = FS_AUTH_GOOD;
        return rights(c, rel, need);
    }
    /* The same credentials already being checked for this worker (a
     * browser's parallel connections): wait for that verdict too. */
    for (size_t i = 0; c->w->auth_port != NULL && i < FS_AUTH_QUEUE; i++) {
        struct fs_auth_job *q = &a->jobs[i];
        if (q->nc > 0 && q->nc < WAITERS && q->port == c->w->auth_port && q->user == user &&
            auth_ct_equal(q->key, key, KEY_LEN)) {
            q->c[q->nc++] = c;
            pthread_mutex_unlock(&a->mu);
            explicit_bzero(buf, sizeof buf);
            return wait_for(c, q, now);
        }
    }
    struct fs_auth_job *j = c->w->auth_port != NULL ? a->free_jobs : NULL;
    if (j == NULL) {
        pthread_mutex_unlock(&a->mu);
        explicit_bzero(buf, sizeof buf);
        return answer(c, 503, "Retry-After: 1\r\n", "Too many logins at once: try again.");
    }
    a->free_jobs = j->next;
    j->next = NULL;
    j->c[0] = c;
    j->nc = 1;
    j->port = c->w->auth_port;
    j->user = user;
    j->dummy = user >= 0 ? 0 : dummy_for(a, cr.user, cr.user_len);
    j->ok = false;
    memcpy(j->key, key, KEY_LEN);
    memcpy(j->addr, addr, 16);
    memcpy(j->pass, cr.pass, cr.pass_len + 1);
    struct client *cl = client_find(a, addr, now, true);
    if (cl != NULL)
        cl->inflight++;
    if (a->queue_tail != NULL)
        a->queue_tail->next = j;
    else
        a->queue = j;
    a->queue_tail = j;
    pthread_cond_signal(&a->cv);
    pthread_mutex_unlock(&a->mu);
    explicit_bzero(buf, sizeof buf);
    return wait_for(c, j, now);
}
