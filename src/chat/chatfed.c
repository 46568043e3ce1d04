/* chatfed: see chatfed.h. Two Redis connections: pub carries every
 * command (so one broker's lines reach Redis in the order its clients sent
 * them), sub only the subscription. The link is up when pub is connected
 * and sub has confirmed its subscription; if either fails, both are closed
 * and reconnected together after a back-off. */
#include "chat/chatfed.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>

#include "core/buf.h"
#include "net/rds.h"
#include "proto/fedmsg.h"
#include "proto/rurl.h"

#define FED_TIMEOUT_MS 5000    /* a connect or an answer from Redis */
#define FED_PING_LOST_MS 10000 /* our own ping has not come back: resubscribe */
#define FED_BACKOFF_MIN_MS 100
#define FED_BACKOFF_MAX_MS 5000
#define FED_BACKLOG_MAX (16u << 20) /* bytes waiting for Redis before lines stay local */
#define FED_SADD_BATCH 256
#define FED_WHO_MAX (1u << 20)

/* Scripts, so that a check and its change are one step in Redis. */
/* Claims KEYS[1] for broker ARGV[1] for ARGV[2] ms, or refreshes our own
 * claim: 1, or 0 when another broker holds it. */
static const char claim_lua[] = "local v = redis.call('GET', KEYS[1]) "
                                "if v == false or v == ARGV[1] then "
                                "redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end "
                                "return 0";
/* Deletes KEYS[1] only while it is ARGV[1]'s. */
static const char release_lua[] =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end return 0";
/* The names of every broker in set KEYS[1] but ARGV[1], each in the set
 * ARGV[2]..ID; a broker whose set has expired leaves KEYS[1]. */
static const char who_lua[] = "local out = {} "
                              "for _, b in ipairs(redis.call('SMEMBERS', KEYS[1])) do "
                              "if b ~= ARGV[1] then "
                              "local names = redis.call('SMEMBERS', ARGV[2] .. b) "
                              "if #names == 0 then redis.call('SREM', KEYS[1], b) end "
                              "for _, n in ipairs(names) do out[#out + 1] = n end end end "
                              "return out";

enum fed_state { FED_DOWN, FED_CONNECTING, FED_UP };

struct chatfed_member {
    struct chatfed_member *prev, *next; /* on f->members until it leaves */
    void *client;                       /* NULL once left */
    int refs;                           /* the list's, and one per request in flight */
    bool claimed;                       /* nick:name in Redis is ours */
    bool conflict;                      /* told that another broker holds its name */
    bool claiming;
    char name[CHATFED_NAME_MAX + 1];
    char pending[CHATFED_NAME_MAX + 1]; /* the name being claimed */
    char granted[CHATFED_NAME_MAX + 1]; /* the claim Redis granted, until renamed */
};

struct chatfed {
    const struct chatfed_ops *ops;
    void *app;
    struct ev_loop *loop;
    int history;
    size_t line_max;
    int err_fd;
    char ip[INET6_ADDRSTRLEN];
    uint16_t port;
    char shown[RURL_HOST_MAX + RURL_ROOM_MAX + 32]; /* redis://HOST:PORT/ROOM for logs */
    char id[FEDMSG_ID_LEN + 1];
    char k_chan[RURL_ROOM_MAX + 16], k_hist[RURL_ROOM_MAX + 16], k_brokers[RURL_ROOM_MAX + 16];
    char k_mine[RURL_ROOM_MAX + FEDMSG_ID_LEN + 16];
    char k_bprefix[RURL_ROOM_MAX + 16], k_nprefix[RURL_ROOM_MAX + 16];
    char ttl[16];
    struct rds pub, sub;
    enum fed_state state;
    bool sub_ready;
    bool stopped;
    bool told_down; /* local clients know Redis is gone */
    bool told_fail; /* the log says connecting fails */
    int backoff_ms;
    int64_t connect_at, retry_at, next_beat, ping_seen;
    unsigned long unsent; /* lines kept local while Redis was away */
    struct chatfed_member *members;
    char *scratch; /* one encoded message */
    size_t scratch_cap;
};

/* A request in flight on pub; m holds a reference. */
struct fed_req {
    struct chatfed *f;
    struct chatfed_member *m;
    struct buf out; /* /who: the line being built */
};

static void member_unref(struct chatfed_member *m)
{
    if (--m->refs == 0)
        free(m);
}

static struct fed_req *req_new(struct chatfed *f, struct chatfed_member *m)
{
    struct fed_req *q = calloc(1, sizeof *q);
    if (q == NULL)
        return NULL;
    q->f = f;
    q->m = m;
    m->refs++;
    return q;
}

static void req_free(struct fed_req *q)
{
    buf_free(&q->out);
    member_unref(q->m);
    free(q);
}

static void logf_(struct chatfed *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void logf_(struct chatfed *f, const char *fmt, ...)
{
    char line[512];
    va_list ap;

    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n > 0)
        dprintf(f->err_fd, "ferry chat: %s: %s\n", f->shown, line);
}

static void notice_local(struct chatfed *f, const char *line)
{
    f->ops->deliver(f->app, line, strlen(line), false);
}

/* A command on pub from NUL-terminated words; replies go to fn. */
static int cmd(struct chatfed *f, redisCallbackFn *fn, void *priv, int argc, const char **argv)
{
    size_t lens[8];

    for (int i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);
    return rds_command(&f->pub, fn, priv, argc, argv, lens);
}

static bool claimable(const char *name)
{
    return strchr(name, ':') == NULL; /* an address name is this broker's own */
}

/* ---- the link ---------------------------------------------------------- */

static void link_down(struct chatfed *f, int err, const char *why)
{
    bool was_up = f->state == FED_UP;

    /* DOWN first: the NULL replies that closing runs must not send more. */
    f->state = FED_DOWN;
    f->sub_ready = false;
    rds_close(&f->pub);
    rds_close(&f->sub);
    f->retry_at = f->loop->now + f->backoff_ms;
    f->backoff_ms = f->backoff_ms * 2 > FED_BACKOFF_MAX_MS ? FED_BACKOFF_MAX_MS : f->backoff_ms * 2;
    if (was_up) {
        logf_(f, "lost (%s); local chat goes on, reconnecting", why);
        if (!f->told_down)
            notice_local(f, "* redis is unreachable: your messages reach this broker's "
                            "clients only, until it is back\n");
        f->told_down = true;
    } else if (!f->told_fail) {
        logf_(f, "cannot connect (%s); retrying", why);
        f->told_fail = true;
    }
    (void)err;
}

static void on_claim_refreshed(redisAsyncContext *ac, void *reply, void *priv);

/* Claims (or refreshes) m's name; the answer only matters when another
 * broker turns out to hold it. */
static void refresh_claim(struct chatfed *f, struct chatfed_member *m)
{
    char key[RURL_ROOM_MAX + CHATFED_NAME_MAX + 16];
    snprintf(key, sizeof key, "%s%s", f->k_nprefix, m->name);
    struct fed_req *q = req_new(f, m);
    if (q == NULL)
        return;
    const char *argv[] = {"EVAL", claim_lua, "1", key, f->id, f->ttl};
    if (cmd(f, on_claim_refreshed, q, 6, argv) < 0)
        req_free(q);
}

static void on_claim_refreshed(redisAsyncContext *ac, void *reply, void *priv)
{
    struct fed_req *q = priv;
    redisReply *r = reply;
    struct chatfed_member *m = q->m;
    (void)ac;

    if (r != NULL && r->type == REDIS_REPLY_INTEGER && m->client != NULL && claimable(m->name)) {
        if (r->integer == 1) {
            m->claimed = true;
            m->conflict = false;
        } else if (!m->conflict) {
            char line[160];
            m->claimed = false;
            m->conflict = true;
            int n = snprintf(line, sizeof line,
                             "* someone on another broker is also called %s: /nick to choose "
                             "another name\n",
                             m->name);
            if (n > 0 && (size_t)n < sizeof line)
                q->f->ops->tell(q->f->app, m->client, line, (size_t)n);
        }
    }
    req_free(q);
}

static void publish_ping(struct chatfed *f)
{
    char msg[FEDMSG_HEAD_LEN];
    long n = fedmsg_encode(msg, sizeof msg, f->id, FEDMSG_PING, NULL, 0);
    if (n < 0)
        return;
    const char *argv[] = {"PUBLISH", f->k_chan, msg};
    size_t lens[] = {7, strlen(f->k_chan), (size_t)n};
    rds_command(&f->pub, NULL, NULL, 3, argv, lens);
}

/* Keeps this broker in the room: its set's expiry, its place in the
 * broker set, its clients' name claims, and a ping to itself. */
static void heartbeat(struct chatfed *f)
{
    const char *expire[] = {"PEXPIRE", f->k_mine, f->ttl};
    const char *reg[] = {"SADD", f->k_brokers, f->id};

    cmd(f, NULL, NULL, 3, expire);
    cmd(f, NULL, NULL, 3, reg);
    for (struct chatfed_member *m = f->members; m != NULL; m = m->next)
        if (claimable(m->name))
            refresh_claim(f, m);
    publish_ping(f);
    f->next_beat = f->loop->now + CHATFED_BEAT_MS;
}

/* After (re)connecting: Redis may have lost everything (a new server), so
 * this broker's set is written afresh from the members. */
static void register_all(struct chatfed *f)
{
    const char *del[] = {"DEL", f->k_mine};
    const char *argv[2 + FED_SADD_BATCH];
    int argc = 2;

    cmd(f, NULL, NULL, 2, del);
    argv[0] = "SADD";
    argv[1] = f->k_mine;
    for (struct chatfed_member *m = f->members; m != NULL; m = m->next) {
        argv[argc++] = m->name;
        if (argc == 2 + FED_SADD_BATCH || m->next == NULL) {
            size_t lens[2 + FED_SADD_BATCH];
            for (int i = 0; i < argc; i++)
                lens[i] = strlen(argv[i]);
            rds_command(&f->pub, NULL, NULL, argc, argv, lens);
            argc = 2;
        }
    }
    heartbeat(f);
}

static void maybe_up(struct chatfed *f)
{
    if (f->state != FED_CONNECTING || !rds_up(&f->pub) || !f->sub_ready)
        return;
    f->state = FED_UP;
    f->backoff_ms = FED_BACKOFF_MIN_MS;
    f->ping_seen = f->loop->now;
    f->told_fail = false;
    register_all(f);
    if (f->told_down) {
        logf_(f, "connected again; %lu line%s sent here meanwhile stayed on this broker", f->unsent,
              f->unsent == 1 ? "" : "s");
        notice_local(f, "* redis is back: the room is shared again\n");
    } else {
        logf_(f, "connected, broker %s", f->id);
    }
    f->told_down = false;
    f->unsent = 0;
}

static void on_message(redisAsyncContext *ac, void *reply, void *priv)
{
    struct chatfed *f = priv;
    redisReply *r = reply;
    struct fedmsg m;
    (void)ac;

    if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements < 3 ||
        r->element[0]->type != REDIS_REPLY_STRING)
        return;
    const char *kind = r->element[0]->str;
    if (strcmp(kind, "subscribe") == 0) {
        f->sub_ready = true;
        maybe_up(f);
        return;
    }
    if (strcmp(kind, "message") != 0 || r->element[2]->type != REDIS_REPLY_STRING)
        return;
    if (fedmsg_parse(r->element[2]->str, r->element[2]->len, f->line_max, &m) < 0)
        return; /* not ours to understand: never delivered */
    if (memcmp(m.id, f->id, FEDMSG_ID_LEN) == 0) {
        if (m.kind == FEDMSG_PING)
            f->ping_seen = f->loop->now;
        return;
    }
    if (m.kind != FEDMSG_PING && f->state == FED_UP)
        f->ops->deliver(f->app, m.line, m.len, m.kind == FEDMSG_LINE);
}

static void on_pub_up(struct rds *r)
{
    maybe_up(r->data);
}

static void on_sub_up(struct rds *r)
{
    struct chatfed *f = r->data;
    const char *argv[] = {"SUBSCRIBE", f->k_chan};
    size_t lens[] = {9, strlen(f->k_chan)};

    if (rds_command(&f->sub, on_message, f, 2, argv, lens) < 0)
        link_down(f, -ENOMEM, "cannot subscribe");
}

static void on_down(struct rds *r, int err)
{
    struct chatfed *f = r->data;
    char why[sizeof r->why];

    snprintf(why, sizeof why, "%s", r->why);
    link_down(f, err, why);
}

static void try_connect(struct chatfed *f)
{
    f->state = FED_CONNECTING;
    f->connect_at = f->loop->now;
    f->sub_ready = false;
    int rc = rds_connect(&f->pub, f->ip, f->port);
    struct rds *failed = &f->pub;
    if (rc == 0) {
        rc = rds_connect(&f->sub, f->ip, f->port);
        failed = &f->sub;
    }
    if (rc < 0) {
        char why[sizeof failed->why];
        snprintf(why, sizeof why, "%s", failed->why);
        link_down(f, rc, why);
    }
}

/* ---- the API ----------------------------------------------------------- */

static int resolve(const char *host, size_t len, char *ip, size_t ipsz)
{
    char name[RURL_HOST_MAX + 1];
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;

    memcpy(name, host, len);
    name[len] = '\0';
    if (getaddrinfo(name, NULL, &hints, &res) != 0 || res == NULL)
        return -EHOSTUNREACH;
    const void *a = res->ai_family == AF_INET6
                        ? (const void *)&((struct sockaddr_in6 *)res->ai_addr)->sin6_addr
                        : (const void *)&((struct sockaddr_in *)res->ai_addr)->sin_addr;
    const char *ok = inet_ntop(res->ai_family, a, ip, (socklen_t)ipsz);
    freeaddrinfo(res);
    return ok != NULL ? 0 : -EAFNOSUPPORT;
}

int chatfed_new(const struct chatfed_config *cfg, const struct chatfed_ops *ops, void *app,
                struct chatfed **out, const char **what)
{
    struct rurl u;
    unsigned char rnd[FEDMSG_ID_LEN / 2];
    int rc = rurl_parse(cfg->url, strlen(cfg->url), &u);

    if (rc < 0) {
        *what = "bad --redis URL";
        return rc;
    }
    struct chatfed *f = calloc(1, sizeof *f);
    if (f == NULL)
        return -ENOMEM;
    f->ops = ops;
    f->app = app;
    f->history = cfg->history;
    f->line_max = cfg->line_max;
    f->err_fd = cfg->err_fd;
    f->backoff_ms = FED_BACKOFF_MIN_MS;
    f->scratch_cap = cfg->line_max + FEDMSG_HEAD_LEN + 1;
    f->scratch = malloc(f->scratch_cap);
    if (f->scratch == NULL) {
        free(f);
        return -ENOMEM;
    }
    rc = resolve(u.host, u.host_len, f->ip, sizeof f->ip);
    if (rc < 0) {
        *what = "cannot resolve the --redis host";
        chatfed_free(f);
        return rc;
    }
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) {
        *what = "no random broker id";
        chatfed_free(f);
        return -EIO;
    }
    for (size_t i = 0; i < sizeof rnd; i++)
        snprintf(f->id + 2 * i, 3, "%02x", rnd[i]);
    f->port = u.port;
    int room = (int)u.room_len;
    bool v6 = memchr(u.host, ':', u.host_len) != NULL;
    snprintf(f->shown, sizeof f->shown, "redis://%s%.*s%s:%u/%.*s", v6 ? "[" : "", (int)u.host_len,
             u.host, v6 ? "]" : "", u.port, room, u.room);
    snprintf(f->k_chan, sizeof f->k_chan, "ferry:%.*s:chan", room, u.room);
    snprintf(f->k_hist, sizeof f->k_hist, "ferry:%.*s:history", room, u.room);
    snprintf(f->k_brokers, sizeof f->k_brokers, "ferry:%.*s:brokers", room, u.room);
    snprintf(f->k_bprefix, sizeof f->k_bprefix, "ferry:%.*s:b:", room, u.room);
    snprintf(f->k_nprefix, sizeof f->k_nprefix, "ferry:%.*s:nick:", room, u.room);
    snprintf(f->k_mine, sizeof f->k_mine, "%s%s", f->k_bprefix, f->id);
    snprintf(f->ttl, sizeof f->ttl, "%d", CHATFED_TTL_MS);
    *out = f;
    return 0;
}

void chatfed_attach(struct chatfed *f, struct ev_loop *loop)
{
    f->loop = loop;
    rds_init(&f->pub, loop, FED_TIMEOUT_MS, on_pub_up, on_down, f);
    rds_init(&f->sub, loop, FED_TIMEOUT_MS, on_sub_up, on_down, f);
    try_connect(f);
}

void chatfed_tick(struct chatfed *f)
{
    if (f->stopped || f->loop == NULL)
        return;
    rds_tick(&f->pub);
    rds_tick(&f->sub);
    int64_t now = f->loop->now;
    if (f->state == FED_DOWN && now >= f->retry_at) {
        try_connect(f);
    } else if (f->state == FED_CONNECTING && now - f->connect_at > FED_TIMEOUT_MS) {
        /* Connected but never subscribed (an error reply, a stuck server). */
        link_down(f, -ETIMEDOUT, "no subscription");
    } else if (f->state == FED_UP) {
        if (now - f->ping_seen > FED_PING_LOST_MS)
            link_down(f, -ETIMEDOUT, "our own messages stopped coming back");
        else if (now >= f->next_beat)
            heartbeat(f);
    }
}

struct chatfed_member *chatfed_join(struct chatfed *f, void *client, const char *name)
{
    struct chatfed_member *m = calloc(1, sizeof *m);

    if (m == NULL)
        return NULL;
    m->client = client;
    m->refs = 1;
    snprintf(m->name, sizeof m->name, "%s", name);
    m->next = f->members;
    if (f->members != NULL)
        f->members->prev = m;
    f->members = m;
    if (f->state == FED_UP) {
        const char *add[] = {"SADD", f->k_mine, m->name};
        const char *expire[] = {"PEXPIRE", f->k_mine, f->ttl};
        cmd(f, NULL, NULL, 3, add);
        cmd(f, NULL, NULL, 3, expire); /* a new set must not outlive us */
    }
    return m;
}

static void release(struct chatfed *f, const char *name)
{
    char key[RURL_ROOM_MAX + CHATFED_NAME_MAX + 16];

    snprintf(key, sizeof key, "%s%s", f->k_nprefix, name);
    const char *argv[] = {"EVAL", release_lua, "1", key, f->id};
    cmd(f, NULL, NULL, 5, argv);
}

void chatfed_leave(struct chatfed *f, struct chatfed_member *m)
{
    if (m == NULL)
        return;
    if (m->prev != NULL)
        m->prev->next = m->next;
    else
        f->members = m->next;
    if (m->next != NULL)
        m->next->prev = m->prev;
    m->prev = m->next = NULL;
    if (f->state == FED_UP) {
        const char *rem[] = {"SREM", f->k_mine, m->name};
        cmd(f, NULL, NULL, 3, rem);
        if (m->claimed)
            release(f, m->name);
    }
    m->client = NULL;
    member_unref(m);
}

static void on_claimed(redisAsyncContext *ac, void *reply, void *priv)
{
    struct fed_req *q = priv;
    struct chatfed_member *m = q->m;
    redisReply *r = reply;
    enum chatfed_claim res = CHATFED_CLAIM_UNKNOWN;
    (void)ac;

    if (r != NULL && r->type == REDIS_REPLY_INTEGER)
        res = r->integer == 1 ? CHATFED_CLAIM_OK : CHATFED_CLAIM_TAKEN;
    m->claiming = false;
    if (res == CHATFED_CLAIM_OK)
        memcpy(m->granted, m->pending, sizeof m->granted);
    if (m->client != NULL)
        q->f->ops->claimed(q->f->app, m->client, m->pending, res);
    else if (res == CHATFED_CLAIM_OK && q->f->state == FED_UP)
        release(q->f, m->pending); /* it left while asking */
    req_free(q);
}

int chatfed_claim(struct chatfed *f, struct chatfed_member *m, const char *name, size_t len)
{
    char key[RURL_ROOM_MAX + CHATFED_NAME_MAX + 16];

    if (m == NULL || f->state != FED_UP || len > CHATFED_NAME_MAX)
        return -ENOTCONN;
    for (struct chatfed_member *o = f->members; o != NULL; o = o->next)
        if (o->claiming && strlen(o->pending) == len && memcmp(o->pending, name, len) == 0)
            return -EADDRINUSE;
    memcpy(m->pending, name, len);
    m->pending[len] = '\0';
    snprintf(key, sizeof key, "%s%s", f->k_nprefix, m->pending);
    struct fed_req *q = req_new(f, m);
    if (q == NULL)
        return -ENOTCONN;
    const char *argv[] = {"EVAL", claim_lua, "1", key, f->id, f->ttl};
    if (cmd(f, on_claimed, q, 6, argv) < 0) {
        req_free(q);
        return -ENOTCONN;
    }
    m->claiming = true;
    return 0;
}

void chatfed_renamed(struct chatfed *f, struct chatfed_member *m, const char *name)
{
    if (m == NULL)
        return;
    bool up = f->state == FED_UP;
    if (up) {
        const char *rem[] = {"SREM", f->k_mine, m->name};
        const char *add[] = {"SADD", f->k_mine, name};
        const char *expire[] = {"PEXPIRE", f->k_mine, f->ttl};
        cmd(f, NULL, NULL, 3, rem);
        cmd(f, NULL, NULL, 3, add);
        cmd(f, NULL, NULL, 3, expire);
    }
    if (m->claimed && strcmp(m->name, name) != 0 && up)
        release(f, m->name);
    m->claimed = strcmp(m->granted, name) == 0;
    m->conflict = false;
    m->granted[0] = '\0';
    snprintf(m->name, sizeof m->name, "%s", name);
}

int chatfed_line(struct chatfed *f, const char *line, size_t n, bool keep)
{
    if (f->state != FED_UP) {
        f->unsent += keep;
        return -ENOTCONN;
    }
    if (rds_backlog(&f->pub) > FED_BACKLOG_MAX) {
        f->unsent += keep;
        return -ENOBUFS;
    }
    long len = fedmsg_encode(f->scratch, f->scratch_cap, f->id, keep ? FEDMSG_LINE : FEDMSG_NOTICE,
                             line, n);
    if (len < 0)
        return (int)len;
    if (keep && f->history > 0) {
        char keepn[16];
        snprintf(keepn, sizeof keepn, "-%d", f->history);
        const char *push[] = {"RPUSH", f->k_hist, line};
        size_t plens[] = {5, strlen(f->k_hist), n};
        const char *trim[] = {"LTRIM", f->k_hist, keepn, "-1"};
        rds_command(&f->pub, NULL, NULL, 3, push, plens);
        cmd(f, NULL, NULL, 4, trim);
    }
    const char *pub[] = {"PUBLISH", f->k_chan, f->scratch};
    size_t lens[] = {7, strlen(f->k_chan), (size_t)len};
    return rds_command(&f->pub, NULL, NULL, 3, pub, lens);
}

static void on_history(redisAsyncContext *ac, void *reply, void *priv)
{
    struct fed_req *q = priv;
    struct chatfed *f = q->f;
    redisReply *r = reply;
    void *client = q->m->client;
    (void)ac;

    if (client != NULL) {
        if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
            f->ops->local_history(f->app, client);
        } else {
            for (size_t i = 0; i < r->elements; i++) {
                redisReply *e = r->element[i];
                if (e->type == REDIS_REPLY_STRING && fedmsg_line_ok(e->str, e->len, f->line_max))
                    f->ops->tell(f->app, client, e->str, e->len);
            }
        }
    }
    req_free(q);
}

int chatfed_history(struct chatfed *f, struct chatfed_member *m)
{
    char first[16];

    if (m == NULL || f->state != FED_UP)
        return -ENOTCONN;
    if (f->history <= 0)
        return 0;
    struct fed_req *q = req_new(f, m);
    if (q == NULL)
        return -ENOTCONN;
    snprintf(first, sizeof first, "-%d", f->history);
    const char *argv[] = {"LRANGE", f->k_hist, first, "-1"};
    if (cmd(f, on_history, q, 4, argv) < 0) {
        req_free(q);
        return -ENOTCONN;
    }
    return 0;
}

static bool name_ok(const char *s, size_t n)
{
    if (n == 0 || n > CHATFED_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= ' ' || s[i] == 0x7f)
            return false;
    return true;
}

static void on_who(redisAsyncContext *ac, void *reply, void *priv)
{
    struct fed_req *q = priv;
    redisReply *r = reply;
    (void)ac;

    if (r != NULL && r->type == REDIS_REPLY_ARRAY) {
        for (size_t i = 0; i < r->elements; i++) {
            redisReply *e = r->element[i];
            if (e->type == REDIS_REPLY_STRING && name_ok(e->str, e->len) &&
                buf_len(&q->out) + e->len + 2 < FED_WHO_MAX) {
                buf_append(&q->out, " ", 1);
                buf_append(&q->out, e->str, e->len);
            }
        }
    }
    buf_append(&q->out, "\n", 1);
    if (q->m->client != NULL)
        q->f->ops->tell(q->f->app, q->m->client, buf_rptr(&q->out), buf_len(&q->out));
    req_free(q);
}

int chatfed_who(struct chatfed *f, struct chatfed_member *m, const char *local, size_t n)
{
    if (m == NULL || f->state != FED_UP || n + 1 >= FED_WHO_MAX)
        return -ENOTCONN;
    struct fed_req *q = req_new(f, m);
    if (q == NULL)
        return -ENOTCONN;
    buf_init(&q->out, FED_WHO_MAX);
    if (buf_append(&q->out, local, n) < 0) {
        req_free(q);
        return -ENOTCONN;
    }
    const char *argv[] = {"EVAL", who_lua, "1", f->k_brokers, f->id, f->k_bprefix};
    if (cmd(f, on_who, q, 6, argv) < 0) {
        req_free(q);
        return -ENOTCONN;
    }
    return 0;
}

void chatfed_stop(struct chatfed *f)
{
    if (f->stopped)
        return;
    f->stopped = true;
    if (f->state == FED_UP) {
        const char *del[] = {"DEL", f->k_mine};
        const char *rem[] = {"SREM", f->k_brokers, f->id};
        cmd(f, NULL, NULL, 2, del);
        cmd(f, NULL, NULL, 3, rem);
        rds_flush(&f->pub);
    }
    f->state = FED_DOWN;
    if (f->loop != NULL) {
        rds_close(&f->pub);
        rds_close(&f->sub);
    }
}

void chatfed_free(struct chatfed *f)
{
    if (f == NULL)
        return;
    while (f->members != NULL) {
        struct chatfed_member *m = f->members;
        f->members = m->next;
        free(m);
    }
    free(f->scratch);
    free(f);
}
