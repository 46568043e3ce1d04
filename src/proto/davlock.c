/* The WebDAV lock table. See davlock.h. */
#include "proto/davlock.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void davlock_init(struct davlock_table *t, size_t max_total, size_t max_per_user)
{
    memset(t, 0, sizeof *t);
    t->max_total = max_total;
    t->max_per_user = max_per_user;
}

void davlock_release(struct davlock *l)
{
    free(l->path);
    free(l->owner);
    l->path = l->owner = NULL;
}

void davlock_free(struct davlock_table *t)
{
    for (size_t i = 0; i < t->n; i++)
        davlock_release(&t->locks[i]);
    free(t->locks);
    t->locks = NULL;
    t->n = t->cap = 0;
}

void davlock_token_format(const unsigned char raw[16], char out[DAVLOCK_TOKEN_LEN + 1])
{
    unsigned char b[16];
    static const char hex[] = "0123456789abcdef";
    char *o = out + 9;

    memcpy(b, raw, 16);
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4: random */
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* the RFC 4122 variant */
    memcpy(out, "urn:uuid:", 9);
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *o++ = '-';
        *o++ = hex[b[i] >> 4];
        *o++ = hex[b[i] & 15];
    }
    *o = '\0';
}

uint32_t davlock_timeout(struct http_str v, uint32_t dflt, uint32_t max)
{
    size_t i = 0;

    if (max == 0)
        max = 1;
    while (v.p != NULL && i < v.len) {
        while (i < v.len && (v.p[i] == ' ' || v.p[i] == '\t' || v.p[i] == ','))
            i++;
        size_t start = i;
        while (i < v.len && v.p[i] != ',')
            i++;
        size_t end = i;
        while (end > start && (v.p[end - 1] == ' ' || v.p[end - 1] == '\t'))
            end--;
        const char *p = v.p + start;
        size_t n = end - start;
        if (http_str_ieq(p, n, "Infinite"))
            return max;
        if (n > 7 && http_str_ieq(p, 7, "Second-")) {
            uint64_t secs = 0;
            size_t k = 7;
            for (; k < n && p[k] >= '0' && p[k] <= '9'; k++)
                if (secs <= UINT32_MAX) /* more digits only make it larger */
                    secs = secs * 10 + (uint64_t)(p[k] - '0');
            if (k == n)
                return secs == 0 ? 1 : secs > max ? max : (uint32_t)secs;
        }
    }
    if (dflt == 0)
        dflt = 1;
    return dflt > max ? max : dflt;
}

size_t davlock_expire(struct davlock_table *t, int64_t now)
{
    size_t gone = 0;

    for (size_t i = 0; i < t->n;) {
        if (t->locks[i].expires <= now) {
            davlock_release(&t->locks[i]);
            t->locks[i] = t->locks[--t->n];
            gone++;
        } else {
            i++;
        }
    }
    return gone;
}

/* True when a is b or an ancestor of b (normalised paths, "." the root). */
static bool under(const char *a, const char *b)
{
    size_t n = strlen(a);

    if (strcmp(a, ".") == 0)
        return true;
    return strncmp(a, b, n) == 0 && (b[n] == '\0' || b[n] == '/');
}

bool davlock_covers(const struct davlock *l, const char *path)
{
    return strcmp(l->path, path) == 0 || (l->infinite && under(l->path, path));
}

int davlock_may_grant(const struct davlock_table *t, const char *path, bool exclusive,
                      bool infinite)
{
    for (size_t i = 0; i < t->n; i++) {
        const struct davlock *l = &t->locks[i];
        bool overlap = davlock_covers(l, path) || (infinite && under(path, l->path));
        if (overlap && (exclusive || l->exclusive))
            return -EBUSY;
    }
    return 0;
}

int davlock_add(struct davlock_table *t, const struct davlock *l)
{
    size_t mine = 0;

    if (strlen(l->owner) > DAVLOCK_OWNER_MAX)
        return -ENAMETOOLONG;
    if (davlock_find(t, l->token, strlen(l->token)) != NULL)
        return -EEXIST;
    int rc = davlock_may_grant(t, l->path, l->exclusive, l->infinite);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->locks[i].user, l->user) == 0)
            mine++;
    if (t->n >= t->max_total || mine >= t->max_per_user)
        return -EUSERS;
    if (t->n == t->cap) {
        size_t cap = t->cap == 0 ? 16 : t->cap * 2;
        struct davlock *more = realloc(t->locks, cap * sizeof *more);
        if (more == NULL)
            return -ENOMEM;
        t->locks = more;
        t->cap = cap;
    }
    struct davlock copy = *l;
    copy.path = strdup(l->path);
    copy.owner = strdup(l->owner);
    if (copy.path == NULL || copy.owner == NULL) {
        davlock_release(&copy);
        return -ENOMEM;
    }
    t->locks[t->n++] = copy;
    return 0;
}

struct davlock *davlock_find(struct davlock_table *t, const char *token, size_t len)
{
    for (size_t i = 0; i < t->n; i++)
        if (strlen(t->locks[i].token) == len && memcmp(t->locks[i].token, token, len) == 0)
            return &t->locks[i];
    return NULL;
}

bool davlock_remove(struct davlock_table *t, const char *token, size_t len)
{
    struct davlock *l = davlock_find(t, token, len);

    if (l == NULL)
        return false;
    davlock_release(l);
    *l = t->locks[--t->n];
    return true;
}

void davlock_forget(struct davlock_table *t, const char *path)
{
    for (size_t i = 0; i < t->n;) {
        if (under(path, t->locks[i].path)) {
            davlock_release(&t->locks[i]);
            t->locks[i] = t->locks[--t->n];
        } else {
            i++;
        }
    }
}

/* Whether the request holds l: its token submitted, by its own user. */
static bool held(const struct davlock *l, const char *user, davlock_submits_cb submits, void *arg)
{
    return strcmp(l->user, user) == 0 && submits(arg, l->token, strlen(l->token));
}

/* True when a is the parent of b ("." for a top-level b). */
static bool parent_of(const char *a, const char *b)
{
    const char *slash = strrchr(b, '/');

    if (slash == NULL)
        return strcmp(a, ".") == 0 && strcmp(b, ".") != 0;
    return strlen(a) == (size_t)(slash - b) && strncmp(a, b, (size_t)(slash - b)) == 0;
}

int davlock_may_change(const struct davlock_table *t, const char *path, unsigned how,
                       const char *user, davlock_submits_cb submits, void *arg,
                       const struct davlock **blocker)
{
    for (size_t i = 0; i < t->n; i++) {
        const struct davlock *l = &t->locks[i];
        bool applies = davlock_covers(l, path) || ((how & DAVLOCK_DEEP) && under(path, l->path)) ||
                       ((how & DAVLOCK_MEMBER) && !l->infinite && parent_of(l->path, path));
        if (!applies || held(l, user, submits, arg))
            continue;
        bool ok = false;
        for (size_t k = 0; !l->exclusive && k < t->n && !ok; k++) {
            const struct davlock *o = &t->locks[k];
            ok = !o->exclusive && strcmp(o->path, l->path) == 0 && held(o, user, submits, arg);
        }
        if (!ok) {
            if (blocker != NULL)
                *blocker = l;
            return -EBUSY;
        }
    }
    return 0;
}

const struct davlock *davlock_in_way(const struct davlock_table *t, const char *path)
{
    const struct davlock *beneath = NULL, *parent = NULL;

    for (size_t i = 0; i < t->n; i++) {
        const struct davlock *l = &t->locks[i];
        if (davlock_covers(l, path))
            return l;
        if (beneath == NULL && under(path, l->path))
            beneath = l;
        if (parent == NULL && !l->infinite && parent_of(l->path, path))
            parent = l;
    }
    return beneath != NULL ? beneath : parent;
}

/* ---- the file format ---------------------------------------------------------- */

/* Appends s escaped: '%', controls, space and bytes past 0x7e as %XX. */
static bool put_escaped(char **o, char *end, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";

    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch <= 0x20 || ch >= 0x7f || ch == '%') {
            if (end - *o < 4)
                return false;
            *(*o)++ = '%';
            *(*o)++ = hex[ch >> 4];
            *(*o)++ = hex[ch & 15];
        } else {
            if (end - *o < 2)
                return false;
            *(*o)++ = (char)ch;
        }
    }
    **o = '\0';
    return true;
}

/* A field: "-" for the empty string, "%2D" for "-" itself, else escaped. */
static bool put_field(char **o, char *end, const char *s)
{
    if (end - *o < 4)
        return false;
    if (s[0] == '\0' || strcmp(s, "-") == 0) {
        memcpy(*o, s[0] == '\0' ? "-" : "%2D", s[0] == '\0' ? 2 : 4);
        *o += s[0] == '\0' ? 1 : 3;
        return true;
    }
    return put_escaped(o, end, s);
}

size_t davlock_format(const struct davlock *l, char *out, size_t outsz)
{
    int n = snprintf(out, outsz, "%s\t", l->token);
    if (n < 0 || (size_t)n >= outsz)
        return 0;
    char *o = out + n, *end = out + outsz;
    if (!put_field(&o, end, l->user))
        return 0;
    int m = snprintf(o, (size_t)(end - o), "\t%c\t%c\t%" PRId64 "\t%" PRIu32 "\t",
                     l->exclusive ? 'x' : 's', l->infinite ? 'i' : '0', l->expires, l->timeout);
    if (m < 0 || m >= end - o)
        return 0;
    o += m;
    if (!put_field(&o, end, l->path) || end - o < 2)
        return 0;
    *o++ = '\t';
    if (!put_field(&o, end, l->owner) || end - o < 2)
        return 0;
    *o++ = '\n';
    *o = '\0';
    return (size_t)(o - out);
}

static int unhex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* The field p[0..n) unescaped into a new string; NULL for a bad escape,
 * a NUL, or no memory. */
static char *unescape(const char *p, size_t n)
{
    char *s = malloc(n + 1), *o = s;

    if (s == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (p[i] != '%') {
            *o++ = p[i];
            continue;
        }
        if (i + 2 >= n) {
            free(s);
            return NULL;
        }
        int hi = unhex(p[i + 1]), lo = unhex(p[i + 2]);
        if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
            free(s);
            return NULL;
        }
        *o++ = (char)(hi * 16 + lo);
        i += 2;
    }
    *o = '\0';
    return s;
}

/* A field put_field wrote, as a new string. */
static char *field(struct http_str f)
{
    if (f.len == 1 && f.p[0] == '-')
        return strdup("");
    return unescape(f.p, f.len);
}

/* Splits line into its 8 tab-separated fields. */
static bool split(const char *line, size_t len, struct http_str f[8])
{
    size_t k = 0, start = 0;

    for (size_t i = 0; i <= len; i++) {
        if (i < len && line[i] == '\0')
            return false;
        if (i == len || line[i] == '\t') {
            if (k == 8)
                return false;
            f[k++] = (struct http_str){line + start, i - start};
            start = i + 1;
        }
    }
    return k == 8;
}

/* A decimal number of at most 18 digits in f, negative when '-' leads. */
static bool number(struct http_str f, int64_t *out)
{
    size_t i = 0;
    bool neg = f.len > 0 && f.p[0] == '-';
    int64_t v = 0;

    if (neg)
        i++;
    if (f.len == i || f.len - i > 18)
        return false;
    for (; i < f.len; i++) {
        if (f.p[i] < '0' || f.p[i] > '9')
            return false;
        v = v * 10 + (f.p[i] - '0');
    }
    *out = neg ? -v : v;
    return true;
}

int davlock_parse(const char *line, size_t len, struct davlock *l)
{
    struct http_str f[8];
    int64_t expires, timeout;

    memset(l, 0, sizeof *l);
    if (!split(line, len, f) || f[0].len != DAVLOCK_TOKEN_LEN ||
        memcmp(f[0].p, "urn:uuid:", 9) != 0 || f[1].len == 0 || f[2].len != 1 ||
        (f[2].p[0] != 'x' && f[2].p[0] != 's') || f[3].len != 1 ||
        (f[3].p[0] != 'i' && f[3].p[0] != '0') || !number(f[4], &expires) ||
        !number(f[5], &timeout) || timeout <= 0 || timeout > UINT32_MAX || f[6].len == 0 ||
        f[7].len == 0)
        return -EINVAL;
    memcpy(l->token, f[0].p, f[0].len);
    for (size_t i = 0; i < DAVLOCK_TOKEN_LEN; i++)
        if ((unsigned char)l->token[i] <= 0x20 || l->token[i] == 0x7f)
            return -EINVAL;
    char *user = field(f[1]);
    if (user == NULL || strlen(user) > DAVLOCK_USER_MAX) {
        free(user);
        return -EINVAL;
    }
    memcpy(l->user, user, strlen(user) + 1);
    free(user);
    l->exclusive = f[2].p[0] == 'x';
    l->infinite = f[3].p[0] == 'i';
    l->expires = expires;
    l->timeout = (uint32_t)timeout;
    l->path = field(f[6]);
    l->owner = field(f[7]);
    if (l->path == NULL || l->owner == NULL || l->path[0] == '\0' ||
        strlen(l->owner) > DAVLOCK_OWNER_MAX) {
        davlock_release(l);
        return -EINVAL;
    }
    return 0;
}
