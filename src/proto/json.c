#include "proto/json.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

#include "core/charset.h"

int json_put_string(struct buf *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    int rc = buf_append(b, "\"", 1);

    for (size_t i = 0; i < len && rc == 0; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x80) {
            size_t n = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
            if (c >= 0xc2 && c <= 0xf4 && n <= len - i && utf8_valid(s + i, n)) {
                rc = buf_append(b, s + i, n);
                i += n - 1;
            } else {
                rc = buf_puts(b, "\\ufffd");
            }
        } else if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            rc = buf_append(b, e, 2);
        } else if (c < 0x20 || c == 0x7f) {
            char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            rc = buf_append(b, e, 6);
        } else {
            rc = buf_append(b, &s[i], 1);
        }
    }
    return rc == 0 ? buf_append(b, "\"", 1) : rc;
}

/* ---- Accept -------------------------------------------------------------- */

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* The q of one media range p[0..n) ("type/sub;q=0.5;..."): 0 to 1000. */
static unsigned range_q(const char *p, size_t n)
{
    size_t i = 0;

    while (i < n && p[i] != ';')
        i++;
    while (i < n) {
        i++; /* past ';' */
        while (i < n && is_ows(p[i]))
            i++;
        if (i + 2 <= n && (p[i] == 'q' || p[i] == 'Q') && p[i + 1] == '=') {
            i += 2;
            unsigned q = 0, scale = 1000;
            if (i < n && p[i] == '1')
                return 1000;
            if (i >= n || p[i] != '0')
                return 0; /* not a qvalue: taken as refused */
            i++;
            if (i < n && p[i] == '.') {
                i++;
                for (int d = 0; d < 3 && i < n && p[i] >= '0' && p[i] <= '9'; d++, i++) {
                    scale /= 10;
                    q += (unsigned)(p[i] - '0') * scale;
                }
            }
            return q;
        }
        while (i < n && p[i] != ';')
            i++;
    }
    return 1000;
}

/* Whether the media range p[0..n) is exactly type (case-insensitive). */
static bool range_is(const char *p, size_t n, const char *type)
{
    size_t i = 0, tl = strlen(type);

    while (i < n && p[i] != ';' && !is_ows(p[i]))
        i++;
    return i == tl && strncasecmp(p, type, tl) == 0;
}

bool json_accept(const char *v, size_t len)
{
    unsigned json = 0, html = 0;
    bool has_json = false;
    size_t i = 0;

    while (i < len) {
        while (i < len && (is_ows(v[i]) || v[i] == ','))
            i++;
        size_t start = i;
        while (i < len && v[i] != ',')
            i++;
        const char *p = v + start;
        size_t n = i - start;
        if (range_is(p, n, "application/json")) {
            unsigned q = range_q(p, n);
            if (!has_json || q > json)
                json = q;
            has_json = true;
        } else if (range_is(p, n, "text/html")) {
            unsigned q = range_q(p, n);
            if (q > html)
                html = q;
        }
    }
    return has_json && json > 0 && json >= html;
}

/* ---- reading a listing ------------------------------------------------------ */

#define JSON_MAX_DEPTH 16

struct jp {
    const char *s;
    size_t len, i;
    char *scratch;
    size_t scratchsz;
};

static void skip_ws(struct jp *p)
{
    while (p->i < p->len &&
           (p->s[p->i] == ' ' || p->s[p->i] == '\t' || p->s[p->i] == '\n' || p->s[p->i] == '\r'))
        p->i++;
}

static bool eat(struct jp *p, char c)
{
    skip_ws(p);
    if (p->i < p->len && p->s[p->i] == c) {
        p->i++;
        return true;
    }
    return false;
}

static int hex4(const char *s, unsigned *out)
{
    unsigned v = 0;

    for (int k = 0; k < 4; k++) {
        char c = s[k];
        unsigned d = c >= '0' && c <= '9'   ? (unsigned)(c - '0')
                     : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
                     : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10)
                                            : 16u;
        if (d == 16)
            return -EBADMSG;
        v = v * 16 + d;
    }
    *out = v;
    return 0;
}

/* Appends code point cp as UTF-8 to out at *o (room checked). */
static int put_utf8(char *out, size_t outsz, size_t *o, unsigned cp)
{
    unsigned char u[4];
    size_t n;

    if (cp < 0x80) {
        u[0] = (unsigned char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (unsigned char)(0xc0 | cp >> 6);
        u[1] = (unsigned char)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (unsigned char)(0xe0 | cp >> 12);
        u[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        u[2] = (unsigned char)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        u[0] = (unsigned char)(0xf0 | cp >> 18);
        u[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
        u[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        u[3] = (unsigned char)(0x80 | (cp & 0x3f));
        n = 4;
    }
    if (*o + n >= outsz)
        return -ENAMETOOLONG;
    memcpy(out + *o, u, n);
    *o += n;
    return 0;
}

/* Reads a string into p->scratch (NUL-ended; *outlen its length). */
static int read_string(struct jp *p, size_t *outlen)
{
    size_t o = 0;

    if (!eat(p, '"'))
        return -EBADMSG;
    size_t start = p->i;
    while (p->i < p->len) {
        unsigned char c = (unsigned char)p->s[p->i];
        if (c == '"') {
            p->i++;
            if (!utf8_valid(p->s + start, p->i - 1 - start))
                return -EBADMSG;
            p->scratch[o] = '\0';
            *outlen = o;
            return 0;
        }
        if (c < 0x20)
            return -EBADMSG;
        if (c != '\\') {
            if (o + 1 >= p->scratchsz)
                return -ENAMETOOLONG;
            p->scratch[o++] = (char)c;
            p->i++;
            continue;
        }
        if (p->i + 1 >= p->len)
            return -EBADMSG;
        char e = p->s[p->i + 1];
        p->i += 2;
        static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
        const char *k = e != '\0' ? strchr(from, e) : NULL;
        if (k != NULL) {
            if (o + 1 >= p->scratchsz)
                return -ENAMETOOLONG;
            p->scratch[o++] = to[k - from];
            continue;
        }
        unsigned cp, lo;
        if (e != 'u' || p->i + 4 > p->len || hex4(p->s + p->i, &cp) < 0)
            return -EBADMSG;
        p->i += 4;
        if (cp >= 0xdc00 && cp <= 0xdfff)
            return -EBADMSG;
        if (cp >= 0xd800 && cp <= 0xdbff) {
            if (p->i + 6 > p->len || p->s[p->i] != '\\' || p->s[p->i + 1] != 'u' ||
                hex4(p->s + p->i + 2, &lo) < 0 || lo < 0xdc00 || lo > 0xdfff)
                return -EBADMSG;
            p->i += 6;
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        }
        int rc = put_utf8(p->scratch, p->scratchsz, &o, cp);
        if (rc < 0)
            return rc;
    }
    return -EBADMSG;
}

/* Reads an integer (no fraction, no exponent: sizes and times). */
static int read_int(struct jp *p, int64_t *out)
{
    bool neg = false;
    uint64_t v = 0;

    skip_ws(p);
    if (p->i < p->len && p->s[p->i] == '-') {
        neg = true;
        p->i++;
    }
    size_t start = p->i;
    while (p->i < p->len && p->s[p->i] >= '0' && p->s[p->i] <= '9') {
        unsigned d = (unsigned)(p->s[p->i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -EBADMSG;
        v = v * 10 + d;
        p->i++;
    }
    size_t n = p->i - start;
    if (n == 0 || (n > 1 && p->s[start] == '0') || v > (uint64_t)INT64_MAX)
        return -EBADMSG;
    *out = neg ? -(int64_t)v : (int64_t)v;
    return 0;
}

static int skip_value(struct jp *p, int depth);

static int skip_number(struct jp *p)
{
    int64_t ignored;
    int rc = read_int(p, &ignored);

    if (rc < 0)
        return rc;
    if (p->i < p->len && p->s[p->i] == '.') {
        p->i++;
        size_t s = p->i;
        while (p->i < p->len && p->s[p->i] >= '0' && p->s[p->i] <= '9')
            p->i++;
        if (p->i == s)
            return -EBADMSG;
    }
    if (p->i < p->len && (p->s[p->i] == 'e' || p->s[p->i] == 'E')) {
        p->i++;
        if (p->i < p->len && (p->s[p->i] == '+' || p->s[p->i] == '-'))
            p->i++;
        size_t s = p->i;
        while (p->i < p->len && p->s[p->i] >= '0' && p->s[p->i] <= '9')
            p->i++;
        if (p->i == s)
            return -EBADMSG;
    }
    return 0;
}

static bool eat_word(struct jp *p, const char *w)
{
    size_t n = strlen(w);

    skip_ws(p);
    if (p->len - p->i >= n && memcmp(p->s + p->i, w, n) == 0) {
        p->i += n;
        return true;
    }
    return false;
}

/* Skips the members of an object or the values of an array (the opening
 * bracket read), through its closing one. */
static int skip_container(struct jp *p, bool object, int depth)
{
    char close = object ? '}' : ']';
    size_t n;

    if (depth > JSON_MAX_DEPTH)
        return -EBADMSG;
    if (eat(p, close))
        return 0;
    for (;;) {
        int rc = 0;
        if (object) {
            rc = read_string(p, &n);
            if (rc == 0 && !eat(p, ':'))
                rc = -EBADMSG;
        }
        if (rc == 0)
            rc = skip_value(p, depth);
        if (rc < 0)
            return rc;
        if (eat(p, close))
            return 0;
        if (!eat(p, ','))
            return -EBADMSG;
    }
}

static int skip_value(struct jp *p, int depth)
{
    size_t n;

    skip_ws(p);
    if (p->i >= p->len)
        return -EBADMSG;
    switch (p->s[p->i]) {
    case '"':
        return read_string(p, &n);
    case '{':
        p->i++;
        return skip_container(p, true, depth + 1);
    case '[':
        p->i++;
        return skip_container(p, false, depth + 1);
    default:
        if (eat_word(p, "true") || eat_word(p, "false") || eat_word(p, "null"))
            return 0;
        return skip_number(p);
    }
}

/* Reads one entry object (its "{" read) and calls cb. */
static int read_entry(struct jp *p, json_entry_cb cb, void *arg)
{
    struct json_entry e = {0};
    bool has_href = false, has_type = false;
    size_t n, full = p->scratchsz, hrefoff = full / 2;
    int rc = 0;

    p->scratchsz = hrefoff; /* keys and types below, the href above */
    if (!eat(p, '}')) {
        for (;;) {
            rc = read_string(p, &n);
            if (rc == 0 && !eat(p, ':'))
                rc = -EBADMSG;
            if (rc < 0)
                break;
            if (strcmp(p->scratch, "href") == 0) {
                struct jp sub = *p;
                sub.scratch = p->scratch + hrefoff;
                sub.scratchsz = full - hrefoff;
                rc = read_string(&sub, &n);
                p->i = sub.i;
                has_href = true;
            } else if (strcmp(p->scratch, "type") == 0) {
                rc = read_string(p, &n);
                if (rc == 0 && strcmp(p->scratch, "dir") != 0 && strcmp(p->scratch, "file") != 0)
                    rc = -EBADMSG;
                e.dir = rc == 0 && strcmp(p->scratch, "dir") == 0;
                has_type = true;
            } else if (strcmp(p->scratch, "size") == 0) {
                int64_t v = 0;
                rc = read_int(p, &v);
                if (rc == 0 && v < 0)
                    rc = -EBADMSG;
                e.size = (uint64_t)v;
            } else if (strcmp(p->scratch, "mtime") == 0) {
                rc = read_int(p, &e.mtime);
            } else {
                rc = skip_value(p, 3);
            }
            if (rc < 0 || eat(p, '}'))
                break;
            if (!eat(p, ',')) {
                rc = -EBADMSG;
                break;
            }
        }
    }
    p->scratchsz = full;
    if (rc < 0)
        return rc;
    if (!has_href || !has_type)
        return -EBADMSG;
    e.href = p->scratch + hrefoff;
    return cb(arg, &e);
}

int json_listing_parse(const char *s, size_t len, char *scratch, size_t scratchsz, json_entry_cb cb,
                       void *arg)
{
    struct jp p = {.s = s, .len = len, .scratch = scratch, .scratchsz = scratchsz};
    bool seen = false;
    size_t n;

    if (scratchsz < 4)
        return -ENAMETOOLONG;
    if (!eat(&p, '{'))
        return -EBADMSG;
    if (!eat(&p, '}')) {
        for (;;) {
            int rc = read_string(&p, &n);
            if (rc < 0)
                return rc;
            if (!eat(&p, ':'))
                return -EBADMSG;
            if (strcmp(scratch, "entries") == 0 && !seen) {
                seen = true;
                if (!eat(&p, '['))
                    return -EBADMSG;
                if (!eat(&p, ']')) {
                    for (;;) {
                        if (!eat(&p, '{'))
                            return -EBADMSG;
                        rc = read_entry(&p, cb, arg);
                        if (rc != 0)
                            return rc;
                        if (eat(&p, ']'))
                            break;
                        if (!eat(&p, ','))
                            return -EBADMSG;
                    }
                }
            } else {
                rc = skip_value(&p, 1);
                if (rc < 0)
                    return rc;
            }
            if (eat(&p, '}'))
                break;
            if (!eat(&p, ','))
                return -EBADMSG;
        }
    }
    skip_ws(&p);
    return seen && p.i == p.len ? 0 : -EBADMSG;
}
