#include "proto/url.h"
#include "proto/lex.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Takes "user[:pass]" (len bytes at p), percent-decoded, into u. */
static int userinfo(const char *p, size_t len, struct url *u)
{
    const char *colon = memchr(p, ':', len);
    size_t ul = colon != NULL ? (size_t)(colon - p) : len;

    for (size_t i = 0; i < len; i++)
        if ((unsigned char)p[i] <= ' ' || p[i] == 0x7f)
            return -EINVAL;
    /* Decoding never lengthens: a field that fits encoded fits decoded. */
    if (ul >= sizeof u->user || (colon != NULL && len - ul - 1 >= sizeof u->pass))
        return -ENAMETOOLONG;
    url_decode(p, ul, u->user, sizeof u->user);
    u->has_user = true;
    if (colon != NULL) {
        url_decode(colon + 1, len - ul - 1, u->pass, sizeof u->pass);
        u->has_pass = true;
    }
    return 0;
}

int url_parse(const char *s, struct url *u)
{
    const char *p;

    memset(u, 0, sizeof *u);
    if (strncasecmp(s, "http://", 7) == 0) {
        u->scheme = URL_HTTP;
        u->port = 80;
        p = s + 7;
    } else if (strncasecmp(s, "https://", 8) == 0) {
        u->scheme = URL_HTTPS;
        u->port = 443;
        p = s + 8;
    } else if (strncasecmp(s, "raw://", 6) == 0) {
        u->scheme = URL_RAW;
        p = s + 6;
    } else if (strstr(s, "://") != NULL) {
        return -EPROTONOSUPPORT;
    } else if (s[0] == '\0' || s[0] == '/') {
        return -EINVAL;
    } else {
        /* "host/path" means http://host/path, as curl and wget take it. */
        u->scheme = URL_HTTP;
        u->port = 80;
        p = s;
    }
    size_t alen = strcspn(p, "/?#");
    const char *auth_end = p + alen;
    const char *at = memrchr(p, '@', alen);
    if (at != NULL) {
        int rc = userinfo(p, (size_t)(at - p), u);
        if (rc < 0)
            return rc;
        alen -= (size_t)(at + 1 - p);
        p = at + 1;
    }
    const char *h = p, *hend, *colon = NULL;
    if (*p == '[') {
        const char *close = memchr(p, ']', alen);
        if (close == NULL)
            return -EINVAL;
        h = p + 1;
        hend = close;
        u->host_v6 = true;
        if (close + 1 < auth_end) {
            if (close[1] != ':')
                return -EINVAL;
            colon = close + 1;
        }
    } else {
        colon = memchr(p, ':', alen);
        hend = colon ? colon : auth_end;
    }
    size_t hl = (size_t)(hend - h);
    if (hl == 0)
        return -EINVAL;
    if (hl >= sizeof u->host)
        return -ENAMETOOLONG;
    for (size_t i = 0; i < hl; i++)
        if ((unsigned char)h[i] <= ' ' || h[i] == 0x7f)
            return -EINVAL;
    memcpy(u->host, h, hl);
    u->host[hl] = '\0';
    /* RFC 3986 section 3.2.3: an empty port ("host:/") means the default. */
    if (colon != NULL && colon + 1 < auth_end &&
        lex_port(colon + 1, (size_t)(auth_end - colon - 1), false, &u->port) < 0)
        return -EINVAL;
    if (u->port == 0)
        return -EINVAL; /* raw:// names its port */
    const char *path = auth_end;
    size_t pl = strcspn(path, "#"), o = 0;
    if (pl == 0 || path[0] != '/')
        u->path[o++] = '/';
    /* A space and bytes above 0x7f (UTF-8) are percent-encoded, as a
     * browser sends them; other controls are refused. */
    for (size_t i = 0; i < pl; i++) {
        unsigned char c = (unsigned char)path[i];
        bool enc = c == ' ' || c >= 0x80;
        if ((c < ' ' || c == 0x7f))
            return -EINVAL;
        if (o + (enc ? 3 : 1) + 1 > sizeof u->path)
            return -ENAMETOOLONG;
        if (enc) {
            o += (size_t)snprintf(u->path + o, 4, "%%%02X", c);
        } else {
            u->path[o++] = (char)c;
        }
    }
    u->path[o] = '\0';
    return 0;
}

/* RFC 3986 5.2.4 on the path part (before any "?"), in place. */
static void remove_dots(char *path)
{
    char out[4096], rest[4096];
    size_t plen = strcspn(path, "?"), o = 0, i = 0;

    snprintf(rest, sizeof rest, "%s", path + plen);
    while (i < plen) {
        size_t start = i + 1, end = start;
        while (end < plen && path[end] != '/')
            end++;
        size_t seg = end - start;
        if (seg == 1 && path[start] == '.') {
            if (end == plen)
                out[o++] = '/';
        } else if (seg == 2 && path[start] == '.' && path[start + 1] == '.') {
            while (o > 0 && out[o - 1] != '/')
                o--;
            if (o > 0)
                o--;
            if (end == plen)
                out[o++] = '/';
        } else if (o + 1 + seg < sizeof out) {
            out[o++] = '/';
            memcpy(out + o, path + start, seg);
            o += seg;
        }
        i = end;
    }
    if (o == 0)
        out[o++] = '/';
    out[o] = '\0';
    snprintf(path, 4096, "%s%s", out, rest);
}

int url_resolve(const struct url *base, const char *loc, size_t len, struct url *out)
{
    char buf[4096 + 300];
    const char *scheme = base->scheme == URL_HTTPS ? "https" : base->scheme == URL_RAW ? "raw" : "http";
    char auth[300];
    int n;

    if (len >= 4096)
        return -ENAMETOOLONG;
    url_authority(base, auth, sizeof auth);
    if (memmem(loc, len, "://", 3) != NULL && (size_t)((const char *)memmem(loc, len, "://", 3) - loc) < 8) {
        n = snprintf(buf, sizeof buf, "%.*s", (int)len, loc);
    } else if (len >= 2 && loc[0] == '/' && loc[1] == '/') {
        n = snprintf(buf, sizeof buf, "%s:%.*s", scheme, (int)len, loc);
    } else if (len >= 1 && loc[0] == '/') {
        n = snprintf(buf, sizeof buf, "%s://%s%.*s", scheme, auth, (int)len, loc);
    } else if (len >= 1 && loc[0] == '?') {
        size_t bl = strcspn(base->path, "?");
        n = snprintf(buf, sizeof buf, "%s://%s%.*s%.*s", scheme, auth, (int)bl, base->path, (int)len, loc);
    } else {
        /* Relative: replace the last segment of the base path (query cut). */
        size_t bl = strcspn(base->path, "?");
        while (bl > 0 && base->path[bl - 1] != '/')
            bl--;
        n = snprintf(buf, sizeof buf, "%s://%s%.*s%.*s", scheme, auth, (int)bl, base->path, (int)len, loc);
    }
    if (n < 0 || (size_t)n >= sizeof buf)
        return -ENAMETOOLONG;
    int rc = url_parse(buf, out);
    if (rc == 0 && out->has_user)
        return -EINVAL;
    if (rc == 0)
        remove_dots(out->path);
    return rc;
}

size_t url_decode(const char *in, size_t len, char *out, size_t outsz)
{
    size_t o = 0;

    if (outsz == 0)
        return 0;
    for (size_t i = 0; i < len && o + 1 < outsz; i++) {
        char c = in[i];
        if (c == '%' && i + 2 < len && lex_hex_digit(in[i + 1]) >= 0 && lex_hex_digit(in[i + 2]) >= 0) {
            c = (char)(lex_hex_digit(in[i + 1]) * 16 + lex_hex_digit(in[i + 2]));
            i += 2;
        }
        out[o++] = c;
    }
    out[o] = '\0';
    return o;
}

void url_basename(const struct url *u, char *out, size_t outsz)
{
    size_t end = strcspn(u->path, "?");
    size_t start = end;

    while (start > 0 && u->path[start - 1] != '/')
        start--;
    url_decode(u->path + start, end - start, out, outsz);
}

void url_authority(const struct url *u, char *out, size_t outsz)
{
    bool dflt = (u->scheme == URL_HTTP && u->port == 80) || (u->scheme == URL_HTTPS && u->port == 443);
    const char *lb = u->host_v6 ? "[" : "", *rb = u->host_v6 ? "]" : "";

    if (dflt)
        snprintf(out, outsz, "%s%s%s", lb, u->host, rb);
    else
        snprintf(out, outsz, "%s%s%s:%u", lb, u->host, rb, u->port);
}

void url_hide_password(const char *s, char *out, size_t outsz)
{
    const char *sep = strstr(s, "://");
    const char *p = sep != NULL ? sep + 3 : s;
    size_t alen = strcspn(p, "/?#");
    const char *at = memrchr(p, '@', alen);
    const char *colon = at != NULL ? memchr(p, ':', (size_t)(at - p)) : NULL;

    if (colon == NULL)
        snprintf(out, outsz, "%s", s);
    else
        snprintf(out, outsz, "%.*s***%s", (int)(colon + 1 - s), s, at);
}

int url_append_name(struct url *u, const char *name)
{
    static const char keep[] = "-._~!$&'()*+,;=:@";
    char out[sizeof u->path];
    size_t pl = strcspn(u->path, "?"), o = pl;

    if (pl == 0 || u->path[pl - 1] != '/')
        return 0;
    if (name[0] == '\0')
        return -EINVAL;
    memcpy(out, u->path, pl);
    for (const unsigned char *p = (const unsigned char *)name; *p != '\0'; p++) {
        bool plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                     (*p >= '0' && *p <= '9') || strchr(keep, *p) != NULL;
        if (o + (plain ? 1 : 3) >= sizeof out)
            return -ENAMETOOLONG;
        if (plain)
            out[o++] = (char)*p;
        else
            o += (size_t)snprintf(out + o, 4, "%%%02X", *p);
    }
    size_t ql = strlen(u->path + pl);
    if (o + ql >= sizeof out)
        return -ENAMETOOLONG;
    memcpy(out + o, u->path + pl, ql + 1);
    memcpy(u->path, out, o + ql + 1);
    return 1;
}
