/* The WebDAV If header. See davif.h. */
#include "proto/davif.h"

#include <errno.h>
#include <string.h>

#include "proto/cond.h"

static size_t skip_ws(const char *s, size_t len, size_t i)
{
    while (i < len && (s[i] == ' ' || s[i] == '\t'))
        i++;
    return i;
}

/* The bytes up to the closing byte close, from s[i] (just after the
 * opening one): their end, or len when it never comes. Control bytes and
 * white space end nothing but are refused in Coded-URLs by the caller. */
static size_t find_close(const char *s, size_t len, size_t i, char close)
{
    while (i < len && s[i] != close)
        i++;
    return i;
}

/* A Coded-URL's inside: no white space, no control bytes, no '<', not empty. */
static bool url_ok(const char *p, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)p[i];
        if (ch <= 0x20 || ch == 0x7f || ch == '<')
            return false;
    }
    return true;
}

/* An entity tag: [W/]"..." with no '"' inside and no control bytes. */
static bool etag_ok(const char *p, size_t n)
{
    if (n >= 2 && p[0] == 'W' && p[1] == '/') {
        p += 2;
        n -= 2;
    }
    if (n < 2 || p[0] != '"' || p[n - 1] != '"')
        return false;
    for (size_t i = 1; i + 1 < n; i++) {
        unsigned char ch = (unsigned char)p[i];
        if (ch == '"' || ch < 0x21 || ch == 0x7f)
            return false;
    }
    return true;
}

/* One list from s[i] == '(' to its ')': the conditions into h. Returns the
 * index after ')' or -errno. */
static long parse_list(const char *s, size_t len, size_t i, struct davif *h, size_t *count)
{
    size_t n = 0;

    i++; /* '(' */
    for (;;) {
        i = skip_ws(s, len, i);
        if (i >= len)
            return -EINVAL;
        if (s[i] == ')')
            break;
        bool not = false;
        if (len - i >= 3 && (s[i] == 'N' || s[i] == 'n') && (s[i + 1] == 'o' || s[i + 1] == 'O') &&
            (s[i + 2] == 't' || s[i + 2] == 'T')) {
            not = true;
            i = skip_ws(s, len, i + 3);
            if (i >= len)
                return -EINVAL;
        }
        char open = s[i];
        if (open != '<' && open != '[')
            return -EINVAL;
        size_t end = find_close(s, len, i + 1, open == '<' ? '>' : ']');
        if (end >= len)
            return -EINVAL;
        const char *p = s + i + 1;
        size_t plen = end - i - 1;
        if (open == '<' ? !url_ok(p, plen) : !etag_ok(p, plen))
            return -EINVAL;
        if (h->nconds >= DAVIF_MAX_CONDS)
            return -E2BIG;
        h->conds[h->nconds++] =
            (struct davif_cond){.not = not, .etag = open == '[', .text = {p, plen}};
        n++;
        i = end + 1;
    }
    if (n == 0)
        return -EINVAL;
    *count = n;
    return (long)(i + 1);
}

int davif_parse(const char *s, size_t len, struct davif *h)
{
    struct http_str tag = {NULL, 0};
    int tagged = -1; /* unknown until the first production */
    bool need_list = false;
    size_t i = 0;

    h->nlists = h->nconds = 0;
    for (;;) {
        i = skip_ws(s, len, i);
        if (i >= len)
            break;
        if (s[i] == '<') {
            if (tagged == 0 || need_list)
                return -EINVAL;
            tagged = 1;
            size_t end = find_close(s, len, i + 1, '>');
            if (end >= len || !url_ok(s + i + 1, end - i - 1))
                return -EINVAL;
            tag = (struct http_str){s + i + 1, end - i - 1};
            need_list = true;
            i = end + 1;
            continue;
        }
        if (s[i] != '(')
            return -EINVAL;
        if (tagged == -1)
            tagged = 0;
        if (h->nlists >= DAVIF_MAX_LISTS)
            return -E2BIG;
        size_t first = h->nconds, n = 0;
        long next = parse_list(s, len, i, h, &n);
        if (next < 0)
            return (int)next;
        h->lists[h->nlists++] = (struct davif_list){.tag = tag, .first = first, .n = n};
        need_list = false;
        i = (size_t)next;
    }
    if (h->nlists == 0 || need_list)
        return -EINVAL;
    return 0;
}

/* Whether one condition holds for the list's resource. */
static bool cond_holds(const struct davif_cond *c, struct http_str tag, const struct davif_ops *ops,
                       void *arg)
{
    bool yes;

    if (c->etag) {
        char have[COND_ETAG_SIZE + 8];
        yes = ops->etag(arg, tag, have, sizeof have) && c->text.p[0] == '"' &&
              strlen(have) == c->text.len && memcmp(have, c->text.p, c->text.len) == 0;
    } else {
        yes = ops->has_token(arg, tag, c->text);
    }
    return c->not ? !yes : yes;
}

bool davif_eval(const struct davif *h, const struct davif_ops *ops, void *arg)
{
    for (size_t l = 0; l < h->nlists; l++) {
        const struct davif_list *list = &h->lists[l];
        bool all = true;
        for (size_t k = 0; k < list->n && all; k++)
            all = cond_holds(&h->conds[list->first + k], list->tag, ops, arg);
        if (all)
            return true;
    }
    return false;
}

bool davif_submits(const struct davif *h, const char *token, size_t len)
{
    for (size_t k = 0; k < h->nconds; k++) {
        const struct davif_cond *c = &h->conds[k];
        if (!c->etag && !c->not &&c->text.len == len && memcmp(c->text.p, token, len) == 0)
            return true;
    }
    return false;
}
