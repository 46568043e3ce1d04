#include "proto/tree.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

#define TREE_PATH_MAX 8192

int tree_safe_name(const char *in, size_t len, char *out, size_t outsz)
{
    if (len == 0 || (len == 1 && in[0] == '.') || (len == 2 && in[0] == '.' && in[1] == '.'))
        return -EINVAL;
    if (memchr(in, '/', len) != NULL || memchr(in, '\0', len) != NULL)
        return -EINVAL;
    if (len > TREE_NAME_MAX || len >= outsz)
        return -ENAMETOOLONG;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];
        out[i] = c < 0x20 || c == 0x7f || c == '\\' ? '_' : (char)c;
    }
    out[len] = '\0';
    return 0;
}

static int hexval(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* Percent-decodes s[0..len) into out (room for len bytes); a "%" without
 * two hex digits stays. Returns the decoded length. */
static size_t pct_decode(const char *s, size_t len, char *out)
{
    size_t o = 0;

    for (size_t i = 0; i < len; i++) {
        if (s[i] == '%' && i + 2 < len && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
            out[o++] = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    return o;
}

/* Normalises the absolute path p[0..len) ("/a/b/../c/") into out as its
 * decoded segments, each after a "/" ("/a/c"), and *slash: whether it ends
 * in "/" (or a "." or ".." segment). Returns 0, -EINVAL for a segment
 * that decodes to "/" or NUL, -EPERM for a ".." above the root,
 * -ENAMETOOLONG. */
static int normalise(const char *p, size_t len, char *out, size_t outsz, bool *slash)
{
    size_t o = 0, i = 1;
    char seg[TREE_PATH_MAX];

    *slash = false;
    if (len == 0 || p[0] != '/' || len >= outsz || len > sizeof seg)
        return len == 0 || p[0] != '/' ? -EINVAL : -ENAMETOOLONG;
    if (len == 1) {
        *slash = true;
        out[0] = '\0';
        return 0;
    }
    while (i <= len) {
        size_t s = i;
        while (i < len && p[i] != '/')
            i++;
        size_t n = pct_decode(p + s, i - s, seg);
        bool last = i >= len;
        i++; /* past the '/' */
        if (n == 1 && seg[0] == '.') {
            *slash = true;
        } else if (n == 2 && seg[0] == '.' && seg[1] == '.') {
            if (o == 0)
                return -EPERM;
            while (o > 0 && out[o - 1] != '/')
                o--;
            o--; /* the '/' before the segment */
            *slash = true;
        } else if (n == 0) {
            *slash = last; /* "a//b" is "a/b"; a final "/" marks a folder */
        } else {
            if (memchr(seg, '/', n) != NULL || memchr(seg, '\0', n) != NULL)
                return -EINVAL;
            if (o + 1 + n >= outsz)
                return -ENAMETOOLONG;
            out[o++] = '/';
            memcpy(out + o, seg, n);
            o += n;
            *slash = false;
        }
        if (last)
            break;
    }
    out[o] = '\0';
    return 0;
}

enum tree_link tree_link(const char *origin, const char *base, const char *href, size_t len,
                         struct tree_child *out)
{
    char abs[TREE_PATH_MAX], nb[TREE_PATH_MAX], nl[TREE_PATH_MAX];
    size_t ol = strlen(origin), bl = strlen(base);
    const char *hash = memchr(href, '#', len);
    bool slash;

    if (hash != NULL)
        len = (size_t)(hash - href);
    if (memchr(href, '?', len) != NULL)
        return TREE_VARIANT;
    /* The path the link names, on this origin or none. */
    const char *colon = memchr(href, ':', len), *first_slash = memchr(href, '/', len);
    if (len >= ol && strncasecmp(href, origin, ol) == 0 && (len == ol || href[ol] == '/')) {
        href += ol;
        len -= ol;
        if (len == 0) {
            href = "/";
            len = 1;
        }
    } else if (len >= 2 && href[0] == '/' && href[1] == '/') {
        const char *auth = strstr(origin, "//");
        size_t al = auth != NULL ? strlen(auth) : 0;
        if (auth == NULL || len < al || strncasecmp(href, auth, al) != 0 ||
            (len > al && href[al] != '/'))
            return TREE_OUTSIDE;
        href += al;
        len -= al;
        if (len == 0) {
            href = "/";
            len = 1;
        }
    } else if (colon != NULL && (first_slash == NULL || colon < first_slash)) {
        return TREE_OUTSIDE; /* another scheme or host: mailto:, javascript:, https://x/ */
    }
    size_t al = 0;
    if (len == 0)
        return TREE_SELF;
    if (href[0] != '/') {
        if (bl + len >= sizeof abs)
            return TREE_BAD_NAME;
        memcpy(abs, base, bl);
        al = bl;
    } else if (len >= sizeof abs) {
        return TREE_BAD_NAME;
    }
    memcpy(abs + al, href, len);
    al += len;
    if (normalise(base, bl, nb, sizeof nb, &slash) < 0)
        return TREE_OUTSIDE;
    int rc = normalise(abs, al, nl, sizeof nl, &slash);
    if (rc < 0)
        return rc == -EINVAL && strncmp(abs, base, bl) == 0 ? TREE_BAD_NAME : TREE_OUTSIDE;
    size_t nbl = strlen(nb), nll = strlen(nl);
    if (nll == nbl && memcmp(nl, nb, nbl) == 0)
        return TREE_SELF;
    if (nll <= nbl + 1 || memcmp(nl, nb, nbl) != 0 || nl[nbl] != '/' ||
        memchr(nl + nbl + 1, '/', nll - nbl - 1) != NULL)
        return TREE_OUTSIDE;
    size_t rl = nll - nbl - 1;
    if (tree_safe_name(nl + nbl + 1, rl, out->name, sizeof out->name) < 0)
        return TREE_BAD_NAME;
    memcpy(out->raw, nl + nbl + 1, rl);
    out->raw[rl] = '\0';
    out->dir = slash;
    return TREE_CHILD;
}

/* Decodes the HTML character references of v[0..n) into out (outsz).
 * Returns the length, or -ENAMETOOLONG. */
static long html_unescape(const char *v, size_t n, char *out, size_t outsz)
{
    static const struct {
        const char *ref;
        char c;
    } refs[] = {{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&#39;", '\''}};
    size_t o = 0;

    for (size_t i = 0; i < n; i++) {
        char c = v[i];
        if (c == '&') {
            bool done = false;
            for (size_t k = 0; k < sizeof refs / sizeof refs[0] && !done; k++) {
                size_t rl = strlen(refs[k].ref);
                if (n - i >= rl && memcmp(v + i, refs[k].ref, rl) == 0) {
                    c = refs[k].c;
                    i += rl - 1;
                    done = true;
                }
            }
            if (!done && n - i >= 4 && v[i + 1] == '#') {
                size_t j = i + 2;
                unsigned cp = 0;
                while (j < n && j < i + 6 && v[j] >= '0' && v[j] <= '9')
                    cp = cp * 10 + (unsigned)(v[j++] - '0');
                if (j > i + 2 && j < n && v[j] == ';' && cp > 0 && cp < 128) {
                    c = (char)cp;
                    i = j;
                }
            }
        }
        if (o + 1 >= outsz)
            return -ENAMETOOLONG;
        out[o++] = c;
    }
    out[o] = '\0';
    return (long)o;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

int tree_html_links(const char *html, size_t len, char *scratch, size_t scratchsz,
                    int (*cb)(void *arg, const char *href, size_t hlen), void *arg)
{
    size_t i = 0;

    while (i + 2 < len) {
        const char *lt = memchr(html + i, '<', len - i);
        if (lt == NULL)
            break;
        i = (size_t)(lt - html) + 1;
        if (i + 1 >= len || (html[i] != 'a' && html[i] != 'A') || !is_space(html[i + 1]))
            continue;
        const char *gt = memchr(html + i, '>', len - i);
        size_t end = gt != NULL ? (size_t)(gt - html) : len;
        /* The attributes of this <a ...>: look for href=. */
        size_t k = i + 1;
        while (k < end) {
            while (k < end && is_space(html[k]))
                k++;
            size_t an = k;
            while (k < end && !is_space(html[k]) && html[k] != '=')
                k++;
            bool is_href = k - an == 4 && strncasecmp(html + an, "href", 4) == 0;
            while (k < end && is_space(html[k]))
                k++;
            if (k >= end || html[k] != '=')
                continue;
            k++;
            while (k < end && is_space(html[k]))
                k++;
            size_t vs, ve;
            if (k < end && (html[k] == '"' || html[k] == '\'')) {
                char q = html[k];
                vs = ++k;
                /* A quoted value may hold '>': look past end for its quote. */
                const char *qe = memchr(html + k, q, len - k);
                ve = qe != NULL ? (size_t)(qe - html) : len;
                k = ve + 1;
                if (k > end) {
                    gt = k < len ? memchr(html + k, '>', len - k) : NULL;
                    end = gt != NULL ? (size_t)(gt - html) : len;
                }
            } else {
                vs = k;
                while (k < end && !is_space(html[k]))
                    k++;
                ve = k;
            }
            if (is_href) {
                long n = html_unescape(html + vs, ve - vs, scratch, scratchsz);
                if (n >= 0) {
                    int rc = cb(arg, scratch, (size_t)n);
                    if (rc != 0)
                        return rc;
                }
                break;
            }
        }
        i = end;
    }
    return 0;
}
