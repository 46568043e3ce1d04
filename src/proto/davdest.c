/* davdest: Destination, Overwrite and Depth of COPY and MOVE, and the
 * decisions about where a copy may go. See davdest.h. */
#include "proto/davdest.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "proto/hostport.h"
#include "proto/path.h"

#define AUTHORITY_MAX 300 /* bytes of "host:port" we compare; longer is no name of ours */

static bool blank(char c)
{
    return c == ' ' || c == '\t';
}

/* Drops blanks at both ends of v[0..*len). */
static const char *trim(const char *v, size_t *len)
{
    size_t n = *len;

    while (n > 0 && blank(v[0])) {
        v++;
        n--;
    }
    while (n > 0 && blank(v[n - 1]))
        n--;
    *len = n;
    return v;
}

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* True when s[0..n) equals lit (lower case) ignoring ASCII case. */
static bool ieq(const char *s, size_t n, const char *lit)
{
    if (strlen(lit) != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (lower(s[i]) != lit[i])
            return false;
    return true;
}

/* Splits the authority a[0..n) into host and port (default_port when it
 * has none). Returns 0 or -EINVAL. */
static int split_authority(const char *a, size_t n, uint16_t default_port, char *host,
                           size_t hostsz, uint16_t *port)
{
    char buf[AUTHORITY_MAX + 1];

    if (n == 0 || n > AUTHORITY_MAX || memchr(a, '\0', n) != NULL)
        return -EINVAL;
    memcpy(buf, a, n);
    buf[n] = '\0';
    return hostport_parse(buf, host, hostsz, port, default_port) == 0 ? 0 : -EINVAL;
}

/* Whether the authority a[0..n) names the server self reached. Returns 1
 * (yes), 0 (another server), or -EINVAL (no Host to compare with, or a
 * Host that does not parse). */
static int same_server(const char *a, size_t n, const struct davdest_self *self)
{
    char h1[AUTHORITY_MAX + 1], h2[AUTHORITY_MAX + 1];
    uint16_t p1, p2, def = self->tls ? 443 : 80;

    if (self->host == NULL)
        return -EINVAL;
    size_t hl = self->host_len;
    const char *hv = trim(self->host, &hl);
    if (split_authority(hv, hl, def, h2, sizeof h2, &p2) < 0)
        return -EINVAL;
    if (split_authority(a, n, def, h1, sizeof h1, &p1) < 0)
        return 0; /* no name of ours */
    size_t l1 = strlen(h1);
    if (p1 != p2 || l1 != strlen(h2))
        return 0;
    for (size_t i = 0; i < l1; i++)
        if (lower(h1[i]) != lower(h2[i]))
            return 0;
    return 1;
}

/* The status for path_from_target's error. */
static int path_status(long rc)
{
    if (rc == -ENAMETOOLONG)
        return 414;
    if (rc == -EACCES)
        return 403;
    return 400;
}

int davdest_parse(const char *v, size_t len, const struct davdest_self *self, char *out,
                  size_t outsz, unsigned *flags)
{
    *flags = 0;
    if (v == NULL)
        return 400;
    v = trim(v, &len);
    if (len == 0)
        return 400;
    if (v[0] == '/') {
        if (len > 1 && v[1] == '/')
            return 400; /* "//host/p" is neither an absolute URI nor an absolute path */
        long rc = path_from_target(v, len, out, outsz, flags);
        return rc < 0 ? path_status(rc) : 0;
    }
    size_t i = 0;
    while (i < len && v[i] != ':') {
        char c = lower(v[i]);
        bool ok = (c >= 'a' && c <= 'z') ||
                  (i > 0 && ((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.'));
        if (!ok)
            return 400;
        i++;
    }
    if (i == 0 || i == len)
        return 400;
    bool https = ieq(v, i, "https");
    if (!https && !ieq(v, i, "http"))
        return 502; /* another scheme: no resource of this server */
    if (len - i < 3 || v[i + 1] != '/' || v[i + 2] != '/')
        return 400;
    const char *auth = v + i + 3;
    size_t alen = 0, rest_len = len - (i + 3);
    while (alen < rest_len && auth[alen] != '/' && auth[alen] != '?' && auth[alen] != '#')
        alen++;
    if (alen == 0 || memchr(auth, '@', alen) != NULL)
        return 400; /* no host, or user information (RFC 9110 §4.2.4) */
    if (https != self->tls)
        return 502;
    int same = same_server(auth, alen, self);
    if (same < 0)
        return 400;
    if (same == 0)
        return 502;
    const char *path = auth + alen;
    size_t plen = rest_len - alen;
    if (plen == 0 || path[0] != '/') {
        path = "/"; /* "http://host" and "http://host?q" name the root */
        plen = 1;
    }
    long rc = path_from_target(path, plen, out, outsz, flags);
    return rc < 0 ? path_status(rc) : 0;
}

int davdest_overwrite(const char *v, size_t len)
{
    if (v == NULL)
        return 1;
    v = trim(v, &len);
    if (len == 1 && v[0] == 'T')
        return 1;
    if (len == 1 && v[0] == 'F')
        return 0;
    return -EINVAL;
}

int davdest_depth(const char *v, size_t len, bool move, bool coll)
{
    int d;

    if (v == NULL)
        return DAVDEST_DEPTH_INFINITY;
    v = trim(v, &len);
    if (len == 1 && v[0] == '0')
        d = DAVDEST_DEPTH_0;
    else if (ieq(v, len, "infinity"))
        d = DAVDEST_DEPTH_INFINITY;
    else
        return -EINVAL; /* "1" among them: COPY and MOVE know no Depth 1 */
    if (move && coll && d != DAVDEST_DEPTH_INFINITY)
        return -EINVAL;
    return d;
}

/* True when inner lies strictly beneath outer (both normalised). */
static bool beneath(const char *outer, const char *inner)
{
    if (strcmp(outer, ".") == 0)
        return strcmp(inner, ".") != 0;
    size_t n = strlen(outer);
    return strncmp(outer, inner, n) == 0 && inner[n] == '/';
}

enum davdest_rel davdest_relation(const char *src, const char *dst)
{
    if (strcmp(src, dst) == 0)
        return DAVDEST_SAME;
    if (beneath(src, dst))
        return DAVDEST_INSIDE;
    if (beneath(dst, src))
        return DAVDEST_CONTAINS;
    return DAVDEST_APART;
}

int davdest_refuse(const char *src, const char *dst, bool coll, enum davdest_depth depth,
                   bool overwrite)
{
    switch (davdest_relation(src, dst)) {
    case DAVDEST_SAME:
        return 403;
    case DAVDEST_INSIDE:
        return coll && depth == DAVDEST_DEPTH_INFINITY ? 403 : 0;
    case DAVDEST_CONTAINS:
        return overwrite ? 403 : 0;
    default:
        return 0;
    }
}
