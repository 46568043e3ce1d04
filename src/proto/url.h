/* url: the URLs `ferry get` and `ferry put` take. Pure. */
#ifndef FERRY_PROTO_URL_H
#define FERRY_PROTO_URL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum url_scheme { URL_HTTP, URL_HTTPS, URL_RAW };

struct url {
    enum url_scheme scheme;
    char host[256];  /* without brackets */
    bool host_v6;    /* written in brackets */
    uint16_t port;
    char path[4096]; /* from the first "/", with the query; "/" when empty */
    bool has_user;   /* "user@" or "user:pass@" was given */
    bool has_pass;   /* with a ":" */
    char user[256];  /* percent-decoded */
    char pass[256];  /* percent-decoded */
};

/* Parses "http://[user[:pass]@]host[:port]/path", "https://..." (default
 * ports 80 and 443) and "raw://host:port/name" (the port is required); a
 * URL without a scheme ("host:8000/f") is http://. The userinfo (before
 * the authority's last "@") is percent-decoded into user and pass; in the
 * path, spaces and bytes above 0x7f (UTF-8) are percent-encoded, other
 * control bytes refused; a fragment ("#...") is cut. Returns 0, -EINVAL,
 * -EPROTONOSUPPORT for another scheme, -ENAMETOOLONG. */
int url_parse(const char *s, struct url *u);

/* Resolves a Location value against base: absolute URLs as they are,
 * "//host/p", "/p" and relative "p" as a browser would. Credentials never
 * come from a redirect: a Location with userinfo gives -EINVAL, and base's
 * are not carried over. Returns 0 or as url_parse. */
int url_resolve(const struct url *base, const char *loc, size_t len, struct url *out);

/* Percent-decodes in[0..len) into out (NUL-terminated, at most outsz-1
 * bytes); a "%" not followed by two hex digits stays as it is. Returns the
 * decoded length. */
size_t url_decode(const char *in, size_t len, char *out, size_t outsz);

/* The last path segment, percent-decoded, for a file name: "" when the path
 * ends in "/". The query is ignored. Writes at most outsz-1 bytes. */
void url_basename(const struct url *u, char *out, size_t outsz);

/* "host" or "host:port" for a Host header, brackets kept for IPv6; the
 * port only when it is not the scheme's default. */
void url_authority(const struct url *u, char *out, size_t outsz);

/* When u's path (before any query) ends in "/", as in `ferry put FILE
 * http://host/dir/`, appends name (a file name, not a path) to it,
 * percent-encoded but for RFC 3986's unreserved and sub-delims, ':' and
 * '@'. Returns 1 when appended, 0 when the path names a file already (u
 * unchanged), -EINVAL for an empty name, -ENAMETOOLONG. */
int url_append_name(struct url *u, const char *name);

/* Copies the URL s into out (outsz bytes, NUL-terminated, cut to fit)
 * with the password of its userinfo, if any, written as "***": what
 * messages show. */
void url_hide_password(const char *s, char *out, size_t outsz);

#endif
