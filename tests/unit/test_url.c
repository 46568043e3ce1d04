/* Unit tests for proto/url: url_parse (schemes, default ports, IPv6
 * brackets, bad ports, userinfo and its decoding, raw without a port, limits), url_resolve
 * (absolute, scheme-relative, absolute-path and relative references),
 * url_decode, url_basename and url_authority. Inputs sit against a guard
 * page, so reading past their end crashes. */
#include "unit.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "proto/url.h"

/* ---- helpers ------------------------------------------------------------ */

static const char *scheme_name(enum url_scheme s)
{
    return s == URL_HTTP ? "http" : s == URL_HTTPS ? "https" : "raw";
}

/* Parses s placed (with its NUL) right before the guard page. */
static int parse_guarded(const char *s, struct url *u)
{
    struct guard g;
    size_t len = strlen(s) + 1;

    guard_open(&g, len);
    int rc = url_parse(guard_put(&g, s, len), u);
    guard_close(&g);
    return rc;
}

/* What a URL must hold after a successful parse or resolve. */
struct want_url {
    enum url_scheme scheme;
    const char *host;
    bool v6;
    uint16_t port;
    const char *path;
};

static void check_url(const char *row, const struct url *u, const struct want_url *w)
{
    if (u->scheme != w->scheme)
        fail_msg("%s: scheme %s, want %s", row, scheme_name(u->scheme), scheme_name(w->scheme));
    if (strcmp(u->host, w->host) != 0)
        fail_msg("%s: host \"%s\", want \"%s\"", row, u->host, w->host);
    if (u->host_v6 != w->v6)
        fail_msg("%s: host_v6 %d, want %d", row, u->host_v6, w->v6);
    if (u->port != w->port)
        fail_msg("%s: port %u, want %u", row, u->port, w->port);
    if (strcmp(u->path, w->path) != 0)
        fail_msg("%s: path \"%s\", want \"%s\"", row, u->path, w->path);
}

/* ---- url_parse ---------------------------------------------------------- */

struct parse_case {
    const char *name;
    const char *in;
    int rc;
    struct want_url want; /* when rc == 0 */
};

/* clang-format off */
static const struct parse_case parse_cases[] = {
    {"http without a path", "http://example.com", 0, {URL_HTTP, "example.com", false, 80, "/"}},
    {"http with /", "http://example.com/", 0, {URL_HTTP, "example.com", false, 80, "/"}},
    {"http with a path and query", "http://h/a/b.txt?x=1&y=2", 0,
     {URL_HTTP, "h", false, 80, "/a/b.txt?x=1&y=2"}},
    {"http with a port", "http://h:8080/p", 0, {URL_HTTP, "h", false, 8080, "/p"}},
    {"http port 65535", "http://h:65535/", 0, {URL_HTTP, "h", false, 65535, "/"}},
    {"http port 1 with leading zeros", "http://h:0001/", 0, {URL_HTTP, "h", false, 1, "/"}},
    {"http empty port means the default", "http://h:/x", 0, {URL_HTTP, "h", false, 80, "/x"}},
    {"https default port", "https://h/x", 0, {URL_HTTPS, "h", false, 443, "/x"}},
    {"https with a port, no path", "https://h:8443", 0, {URL_HTTPS, "h", false, 8443, "/"}},
    {"scheme in capitals", "HTTP://Example.COM/Path", 0,
     {URL_HTTP, "Example.COM", false, 80, "/Path"}},
    {"https scheme mixed case", "HtTpS://h/", 0, {URL_HTTPS, "h", false, 443, "/"}},
    {"raw with a port and name", "raw://h:9000/name.txt", 0,
     {URL_RAW, "h", false, 9000, "/name.txt"}},
    {"raw with a port, no name", "raw://h:9000", 0, {URL_RAW, "h", false, 9000, "/"}},
    {"RAW in capitals", "RAW://h:1/n", 0, {URL_RAW, "h", false, 1, "/n"}},
    {"IPv4 address", "http://127.0.0.1:8000/x", 0, {URL_HTTP, "127.0.0.1", false, 8000, "/x"}},
    {"IPv6 loopback", "http://[::1]/", 0, {URL_HTTP, "::1", true, 80, "/"}},
    {"IPv6 with a port", "http://[::1]:8080/p", 0, {URL_HTTP, "::1", true, 8080, "/p"}},
    {"IPv6 full", "https://[2001:db8::a:b]:444", 0,
     {URL_HTTPS, "2001:db8::a:b", true, 444, "/"}},
    {"raw IPv6", "raw://[::1]:7/f", 0, {URL_RAW, "::1", true, 7, "/f"}},
    {"fragment cut", "http://h/p#frag", 0, {URL_HTTP, "h", false, 80, "/p"}},
    {"fragment right after the host", "http://h#frag", 0, {URL_HTTP, "h", false, 80, "/"}},
    {"query right after the host", "http://h?q=1", 0, {URL_HTTP, "h", false, 80, "/?q=1"}},
    {"query then fragment", "http://h:81?q#f", 0, {URL_HTTP, "h", false, 81, "/?q"}},
    {"@ in the path is no userinfo", "http://h/a@b", 0, {URL_HTTP, "h", false, 80, "/a@b"}},
    {"percent escapes stay encoded", "http://h/a%20b", 0, {URL_HTTP, "h", false, 80, "/a%20b"}},
    {"UTF-8 in the path is percent-encoded", "http://h/\xe4\xb8\xad", 0, {URL_HTTP, "h", false, 80, "/%E4%B8%AD"}},
    {"a space in the path is percent-encoded", "http://h/a b?q=c d", 0, {URL_HTTP, "h", false, 80, "/a%20b?q=c%20d"}},
    {"no scheme means http", "example.com/x", 0, {URL_HTTP, "example.com", false, 80, "/x"}},
    {"no scheme, a port", "localhost:8000/f.txt", 0, {URL_HTTP, "localhost", false, 8000, "/f.txt"}},
    {"no scheme, a host alone", "h", 0, {URL_HTTP, "h", false, 80, "/"}},
    {"no scheme, userinfo", "u:p@h/x", 0, {URL_HTTP, "h", false, 80, "/x"}},
    {"no scheme, IPv6", "[::1]:81/x", 0, {URL_HTTP, "::1", true, 81, "/x"}},

    {"userinfo before IPv6", "http://u@[::1]:81/", 0, {URL_HTTP, "::1", true, 81, "/"}},
    {"userinfo with a port", "http://u:p@h:8080/x", 0, {URL_HTTP, "h", false, 8080, "/x"}},
    {"userinfo with a space refused", "http://u v@h/", -EINVAL, {0}},
    {"userinfo but no host", "http://u:p@/x", -EINVAL, {0}},
    {"raw without a port", "raw://h/name", -EINVAL, {0}},
    {"raw with an empty port", "raw://h:/name", -EINVAL, {0}},
    {"raw port 0", "raw://h:0/n", -EINVAL, {0}},
    {"port 0", "http://h:0/", -EINVAL, {0}},
    {"port 65536", "http://h:65536/", -EINVAL, {0}},
    {"port of 20 digits", "http://h:99999999999999999999/", -EINVAL, {0}},
    {"negative port", "http://h:-1/", -EINVAL, {0}},
    {"port with letters", "http://h:8a/", -EINVAL, {0}},
    {"port with a space", "http://h: 80/", -EINVAL, {0}},
    {"two ports", "http://h:80:81/", -EINVAL, {0}},
    {"IPv6 without brackets", "http://::1/", -EINVAL, {0}},
    {"IPv6 without the closing bracket", "http://[::1/", -EINVAL, {0}},
    {"IPv6 with junk after the bracket", "http://[::1]x/", -EINVAL, {0}},
    {"IPv6 empty brackets", "http://[]/", -EINVAL, {0}},
    {"IPv6 bad port", "http://[::1]:0/", -EINVAL, {0}},
    {"empty host", "http:///x", -EINVAL, {0}},
    {"empty host with a port", "http://:80/", -EINVAL, {0}},
    {"only the scheme", "http://", -EINVAL, {0}},
    {"space in the host", "http://a b/", -EINVAL, {0}},
    {"tab in the host", "http://a\tb/", -EINVAL, {0}},
    {"tab in the path", "http://h/a\tb", -EINVAL, {0}},
    {"DEL in the path", "http://h/a\x7f", -EINVAL, {0}},
    {"control byte in the path", "http://h/a\x01", -EINVAL, {0}},
    {"a path alone", "/x", -EINVAL, {0}},
    {"empty string", "", -EINVAL, {0}},
    {"scheme without slashes", "http:h/x", -EINVAL, {0}},
    {"ftp", "ftp://h/x", -EPROTONOSUPPORT, {0}},
    {"file", "file:///etc/passwd", -EPROTONOSUPPORT, {0}},
    {"https typo", "htps://h/", -EPROTONOSUPPORT, {0}},
};
/* clang-format on */

static void test_parse(void **state)
{
    const struct parse_case *c = *state;
    struct url u;

    int rc = parse_guarded(c->in, &u);
    if (rc != c->rc)
        fail_msg("%s: url_parse(\"%s\") gave %d, want %d", c->name, c->in, rc, c->rc);
    if (rc == 0)
        check_url(c->name, &u, &c->want);
}

/* Builds "http://" + a host of hl 'a's + "/" + a path of pl 'p's. */
static char *long_url(const char *scheme, size_t hl, size_t pl)
{
    size_t sl = strlen(scheme);
    char *s = malloc(sl + hl + pl + 3);

    assert_non_null(s);
    memcpy(s, scheme, sl);
    memset(s + sl, 'a', hl);
    s[sl + hl] = '/';
    memset(s + sl + hl + 1, 'p', pl);
    s[sl + hl + 1 + pl] = '\0';
    return s;
}

/* ---- userinfo ----------------------------------------------------------- */

struct userinfo_case {
    const char *name;
    const char *in;
    int rc;
    bool has_user, has_pass;
    const char *user, *pass;
};

/* clang-format off */
static const struct userinfo_case userinfo_cases[] = {
    {"no userinfo", "http://h/", 0, false, false, "", ""},
    {"user only", "http://alice@h/", 0, true, false, "alice", ""},
    {"user and password", "http://alice:s3cret@h/x", 0, true, true, "alice", "s3cret"},
    {"empty password", "http://alice:@h/", 0, true, true, "alice", ""},
    {"empty user", "http://:pw@h/", 0, true, true, "", "pw"},
    {"a colon in the password", "http://a:b:c@h/", 0, true, true, "a", "b:c"},
    {"the last @ ends the userinfo", "http://a@b:c@d@h/", 0, true, true, "a@b", "c@d"},
    {"percent-decoded", "http://al%69ce:p%40ss%3A@h/", 0, true, true, "alice", "p@ss:"},
    {"UTF-8 user", "http://j%C3%B6rg:x@h/", 0, true, true, "j\xc3\xb6rg", "x"},
    {"@ after the path is not userinfo", "http://h/a@b", 0, false, false, "", ""},
    {"control byte refused", "http://a\x01:b@h/", -EINVAL, false, false, "", ""},
};
/* clang-format on */

static void test_userinfo(void **state)
{
    const struct userinfo_case *c = *state;
    struct url u;

    int rc = parse_guarded(c->in, &u);
    if (rc != c->rc)
        fail_msg("%s: url_parse(\"%s\") gave %d, want %d", c->name, c->in, rc, c->rc);
    if (rc != 0)
        return;
    if (u.has_user != c->has_user || u.has_pass != c->has_pass)
        fail_msg("%s: has_user %d has_pass %d", c->name, u.has_user, u.has_pass);
    if (strcmp(u.user, c->user) != 0 || strcmp(u.pass, c->pass) != 0)
        fail_msg("%s: user \"%s\" pass \"%s\"", c->name, u.user, u.pass);
    if (strcmp(u.host, "h") != 0)
        fail_msg("%s: host \"%s\"", c->name, u.host);
}

/* A user of 255 bytes fits, 256 do not; the same for the password. */
static void test_userinfo_limits(void **state)
{
    char s[700], f[300];
    struct url u;

    (void)state;
    memset(f, 'u', sizeof f);
    snprintf(s, sizeof s, "http://%.255s:p@h/", f);
    assert_int_equal(parse_guarded(s, &u), 0);
    assert_int_equal(strlen(u.user), 255);
    snprintf(s, sizeof s, "http://%.256s:p@h/", f);
    assert_int_equal(parse_guarded(s, &u), -ENAMETOOLONG);
    snprintf(s, sizeof s, "http://u:%.255s@h/", f);
    assert_int_equal(parse_guarded(s, &u), 0);
    assert_int_equal(strlen(u.pass), 255);
    snprintf(s, sizeof s, "http://u:%.256s@h/", f);
    assert_int_equal(parse_guarded(s, &u), -ENAMETOOLONG);
}

/* The host holds 255 bytes, the path 4095 (with its "/"); one more fails. */
static void test_parse_limits(void **state)
{
    struct url u;
    char *s;

    s = long_url("http://", 255, 1);
    assert_int_equal(parse_guarded(s, &u), 0);
    assert_int_equal(strlen(u.host), 255);
    free(s);
    s = long_url("http://", 256, 1);
    assert_int_equal(parse_guarded(s, &u), -ENAMETOOLONG);
    free(s);
    s = long_url("http://", 1, 4094);
    assert_int_equal(parse_guarded(s, &u), 0);
    assert_int_equal(strlen(u.path), 4095);
    free(s);
    s = long_url("http://", 1, 4095);
    assert_int_equal(parse_guarded(s, &u), -ENAMETOOLONG);
    free(s);
}

/* ---- url_resolve -------------------------------------------------------- */

struct resolve_case {
    const char *name;
    const char *base;
    const char *loc;
    int rc;
    struct want_url want;
};

#define BASE "http://h:8080/a/b/c?q=1"

/* clang-format off */
static const struct resolve_case resolve_cases[] = {
    {"absolute http", BASE, "http://other/x", 0, {URL_HTTP, "other", false, 80, "/x"}},
    {"absolute https with a port", BASE, "https://other:444/x?y", 0,
     {URL_HTTPS, "other", false, 444, "/x?y"}},
    {"absolute in capitals", BASE, "HTTP://other/x", 0, {URL_HTTP, "other", false, 80, "/x"}},
    {"absolute without a path", BASE, "http://other", 0, {URL_HTTP, "other", false, 80, "/"}},
    {"absolute IPv6", BASE, "http://[::1]:9/z", 0, {URL_HTTP, "::1", true, 9, "/z"}},
    {"scheme-relative", BASE, "//other:81/y", 0, {URL_HTTP, "other", false, 81, "/y"}},
    {"scheme-relative keeps https", "https://h/x", "//other/y", 0,
     {URL_HTTPS, "other", false, 443, "/y"}},
    {"absolute path", BASE, "/p?z=2", 0, {URL_HTTP, "h", false, 8080, "/p?z=2"}},
    {"absolute path keeps https and its port", "https://h:8443/x", "/y", 0,
     {URL_HTTPS, "h", false, 8443, "/y"}},
    {"absolute path on an IPv6 base", "http://[::1]:8080/x", "/y", 0,
     {URL_HTTP, "::1", true, 8080, "/y"}},
    {"absolute path with a URL in its query", BASE, "/r?u=http://evil/", 0,
     {URL_HTTP, "h", false, 8080, "/r?u=http://evil/"}},
    {"relative name", BASE, "d", 0, {URL_HTTP, "h", false, 8080, "/a/b/d"}},
    {"relative path with a query", BASE, "d/e?f", 0, {URL_HTTP, "h", false, 8080, "/a/b/d/e?f"}},
    {"relative against a directory", "http://h/a/", "x", 0, {URL_HTTP, "h", false, 80, "/a/x"}},
    {"relative against the root", "http://h", "x", 0, {URL_HTTP, "h", false, 80, "/x"}},
    {"relative against a path with a query holding /", "http://h/a/b?x=/y/z", "c", 0,
     {URL_HTTP, "h", false, 80, "/a/c"}},
    {"relative with dot segments", BASE, "../d", 0, {URL_HTTP, "h", false, 8080, "/a/d"}},
    {"relative with ./", BASE, "./d", 0, {URL_HTTP, "h", false, 8080, "/a/b/d"}},
    {"query only", BASE, "?x=2", 0, {URL_HTTP, "h", false, 8080, "/a/b/c?x=2"}},
    {"fragment cut", BASE, "/p#frag", 0, {URL_HTTP, "h", false, 8080, "/p"}},
    {"another scheme", BASE, "ftp://other/x", -EPROTONOSUPPORT, {0}},
    {"absolute with userinfo", BASE, "http://u@other/", -EINVAL, {0}},
    {"absolute with a bad port", BASE, "http://other:70000/", -EINVAL, {0}},
    {"a space in a relative path is encoded", BASE, "a b", 0, {URL_HTTP, "h", false, 8080, "/a/b/a%20b"}},
    {"a control byte in a relative path", BASE, "a\x01b", -EINVAL, {0}},
};
/* clang-format on */

static void test_resolve(void **state)
{
    const struct resolve_case *c = *state;
    struct url base, out;
    struct guard g;
    size_t len = strlen(c->loc);

    if (url_parse(c->base, &base) != 0)
        fail_msg("%s: base %s does not parse", c->name, c->base);
    guard_open(&g, len + 1);
    /* No NUL after the location: url_resolve takes its length. */
    int rc = url_resolve(&base, guard_put(&g, c->loc, len), len, &out);
    guard_close(&g);
    if (rc != c->rc)
        fail_msg("%s: resolving \"%s\" against %s gave %d, want %d", c->name, c->loc, c->base, rc,
                 c->rc);
    if (rc == 0)
        check_url(c->name, &out, &c->want);
}

/* Only len bytes of the location count. */
static void test_resolve_takes_the_length(void **state)
{
    struct url base, out;

    assert_int_equal(url_parse(BASE, &base), 0);
    assert_int_equal(url_resolve(&base, "/p and junk", 2, &out), 0);
    assert_string_equal(out.path, "/p");
    assert_int_equal(url_resolve(&base, "http://x/yz", 10, &out), 0);
    assert_string_equal(out.host, "x");
    assert_string_equal(out.path, "/y");
}

static void test_resolve_too_long(void **state)
{
    struct url base, out;
    char *loc = malloc(4097);

    assert_non_null(loc);
    assert_int_equal(url_parse(BASE, &base), 0);
    loc[0] = '/';
    memset(loc + 1, 'x', 4095);
    loc[4096] = '\0';
    assert_int_equal(url_resolve(&base, loc, 4096, &out), -ENAMETOOLONG);
    assert_int_equal(url_resolve(&base, loc, 4000, &out), 0);
    assert_int_equal(strlen(out.path), 4000);
    free(loc);
}

/* ---- url_decode --------------------------------------------------------- */

struct decode_case {
    const char *name;
    const char *in;
    size_t len; /* 0: strlen(in) */
    size_t outsz;
    const char *out;
    size_t outlen; /* 0: strlen(out) */
};

/* clang-format off */
static const struct decode_case decode_cases[] = {
    {"plain", "abc", 0, 64, "abc", 0},
    {"space", "a%20b", 0, 64, "a b", 0},
    {"upper and lower hex", "%41%4a%4A%6b", 0, 64, "AJJk", 0},
    {"UTF-8 bytes", "%E4%B8%AD", 0, 64, "\xe4\xb8\xad", 0},
    {"escaped slash and dots", "%2e%2E%2f", 0, 64, "../", 0},
    {"lone percent", "%", 0, 64, "%", 0},
    {"percent at the end", "ab%", 0, 64, "ab%", 0},
    {"one hex digit at the end", "ab%4", 0, 64, "ab%4", 0},
    {"non-hex digits", "%zz%4g", 0, 64, "%zz%4g", 0},
    {"percent before an escape", "%%41", 0, 64, "%A", 0},
    {"decoded once only", "%2541", 0, 64, "%41", 0},
    {"plus stays", "a+b", 0, 64, "a+b", 0},
    {"NUL decoded", "a%00b", 0, 64, "a\0b", 3},
    {"length shorter than the string", "abcdef", 3, 64, "abc", 0},
    {"escape cut by the length", "a%41", 3, 64, "a%4", 0},
    {"output cut at outsz - 1", "abcdef", 0, 4, "abc", 0},
    {"escape at the output limit", "ab%41cd", 0, 4, "abA", 0},
    {"outsz 1", "abc", 0, 1, "", 0},
    {"empty", "", 0, 8, "", 0},
};
/* clang-format on */

static void test_decode(void **state)
{
    const struct decode_case *c = *state;
    size_t len = c->len ? c->len : strlen(c->in);
    size_t want = c->outlen ? c->outlen : strlen(c->out);
    char out[64];
    struct guard g;

    memset(out, 'Z', sizeof out);
    guard_open(&g, len + 1);
    size_t got = url_decode(guard_put(&g, c->in, len), len, out, c->outsz);
    guard_close(&g);
    if (got != want)
        fail_msg("%s: decoded %zu bytes, want %zu", c->name, got, want);
    if (memcmp(out, c->out, want) != 0)
        fail_msg("%s: decoded \"%.*s\", want \"%s\"", c->name, (int)got, out, c->out);
    if (out[want] != '\0')
        fail_msg("%s: no NUL after the output", c->name);
    if (c->outsz < sizeof out && out[c->outsz] != 'Z')
        fail_msg("%s: wrote past outsz", c->name);
}

static void test_decode_outsz_zero(void **state)
{
    char out[4] = "ZZZ";

    assert_int_equal(url_decode("abc", 3, out, 0), 0);
    assert_memory_equal(out, "ZZZ", 4);
}

/* ---- url_basename -------------------------------------------------------- */

struct basename_case {
    const char *name;
    const char *url;
    size_t outsz;
    const char *want;
};

/* clang-format off */
static const struct basename_case basename_cases[] = {
    {"file", "http://h/a/b.txt", 64, "b.txt"},
    {"file at the root", "http://h/b.txt", 64, "b.txt"},
    {"directory", "http://h/a/", 64, ""},
    {"root", "http://h/", 64, ""},
    {"no path", "http://h", 64, ""},
    {"query ignored", "http://h/a/b.txt?x=1", 64, "b.txt"},
    {"query holding slashes", "http://h/a/b.txt?x=/y/z", 64, "b.txt"},
    {"query on a directory", "http://h/a/?x=y.txt", 64, ""},
    {"percent-decoded", "http://h/f%20g%2Etxt", 64, "f g.txt"},
    {"decoded Chinese", "http://h/%E4%B8%AD.txt", 64, "\xe4\xb8\xad.txt"},
    {"encoded slash decoded", "http://h/a%2Fb", 64, "a/b"},
    {"dot-dot", "http://h/x/..", 64, ".."},
    {"raw name", "raw://h:1/dir/n", 64, "n"},
    {"cut at outsz", "http://h/abcdef", 4, "abc"},
};
/* clang-format on */

static void test_basename(void **state)
{
    const struct basename_case *c = *state;
    struct url u;
    char out[64];

    if (url_parse(c->url, &u) != 0)
        fail_msg("%s: %s does not parse", c->name, c->url);
    memset(out, 'Z', sizeof out);
    url_basename(&u, out, c->outsz);
    if (strcmp(out, c->want) != 0)
        fail_msg("%s: \"%s\", want \"%s\"", c->name, out, c->want);
}

/* ---- url_authority ------------------------------------------------------- */

struct authority_case {
    const char *name;
    const char *url;
    size_t outsz;
    const char *want;
};

/* clang-format off */
static const struct authority_case authority_cases[] = {
    {"http default port", "http://h/x", 64, "h"},
    {"http explicit 80", "http://h:80/x", 64, "h"},
    {"http other port", "http://h:8080/x", 64, "h:8080"},
    {"https default port", "https://h/x", 64, "h"},
    {"https on 80", "https://h:80/x", 64, "h:80"},
    {"http on 443", "http://h:443/x", 64, "h:443"},
    {"IPv6 default port", "http://[::1]/", 64, "[::1]"},
    {"IPv6 other port", "https://[2001:db8::1]:8443/", 64, "[2001:db8::1]:8443"},
    {"raw always has its port", "raw://h:80/n", 64, "h:80"},
    {"cut at outsz", "http://host:8080/", 6, "host:"},
};
/* clang-format on */

static void test_authority(void **state)
{
    const struct authority_case *c = *state;
    struct url u;
    char out[64];

    if (url_parse(c->url, &u) != 0)
        fail_msg("%s: %s does not parse", c->name, c->url);
    memset(out, 'Z', sizeof out);
    url_authority(&u, out, c->outsz);
    if (strcmp(out, c->want) != 0)
        fail_msg("%s: \"%s\", want \"%s\"", c->name, out, c->want);
}

/* ---- url_hide_password ------------------------------------------------- */

struct hide_case {
    const char *name;
    const char *in;
    size_t outsz;
    const char *want;
};

/* clang-format off */
static const struct hide_case hide_cases[] = {
    {"no userinfo", "http://h/a:b@c", 64, "http://h/a:b@c"},
    {"user only", "http://alice@h/x", 64, "http://alice@h/x"},
    {"user and password", "http://alice:s3cret@h:81/x", 64, "http://alice:***@h:81/x"},
    {"empty password", "http://alice:@h/", 64, "http://alice:***@h/"},
    {"the last @ ends it", "http://a:b@c@h/", 64, "http://a:***@h/"},
    {"no scheme", "a:pw@h/x", 64, "a:***@h/x"},
    {"cut to fit", "http://a:pw@host/", 12, "http://a:**"},
};
/* clang-format on */

static void test_hide(void **state)
{
    const struct hide_case *c = *state;
    char out[64];

    url_hide_password(c->in, out, c->outsz);
    if (strcmp(out, c->want) != 0)
        fail_msg("%s: \"%s\", want \"%s\"", c->name, out, c->want);
}

/* ---- url_append_name ---------------------------------------------------- */

struct append_case {
    const char *name;
    const char *url, *file;
    int rc;
    const char *want; /* the path after */
};

/* clang-format off */
static const struct append_case append_cases[] = {
    {"a folder", "http://h/dir/", "report.pdf", 1, "/dir/report.pdf"},
    {"the root", "http://h", "a.txt", 1, "/a.txt"},
    {"a query stays after", "http://h/d/?x=1", "f", 1, "/d/f?x=1"},
    {"a file already", "http://h/dir/f.txt", "g", 0, "/dir/f.txt"},
    {"a file with a query", "http://h/f?x=/", "g", 0, "/f?x=/"},
    {"space, percent, hash, question mark", "http://h/", "a b%#?.txt", 1, "/a%20b%25%23%3F.txt"},
    {"UTF-8", "http://h/", "\xe4\xb8\xad", 1, "/%E4%B8%AD"},
    {"sub-delims kept", "http://h/", "a(1)+b,c=d;e@f:g~h!", 1, "/a(1)+b,c=d;e@f:g~h!"},
    {"a slash is encoded", "http://h/", "a/b", 1, "/a%2Fb"},
    {"an empty name", "http://h/", "", -EINVAL, "/"},
};
/* clang-format on */

static void test_append(void **state)
{
    const struct append_case *c = *state;
    struct url u;

    if (url_parse(c->url, &u) != 0)
        fail_msg("%s: %s does not parse", c->name, c->url);
    int rc = url_append_name(&u, c->file);
    if (rc != c->rc || strcmp(u.path, c->want) != 0)
        fail_msg("%s: gave %d \"%s\", want %d \"%s\"", c->name, rc, u.path, c->rc, c->want);
}

/* A name that would make the path 4096 bytes or more is refused, u unchanged. */
static void test_append_too_long(void **state)
{
    static char name[4100];
    struct url u;

    (void)state;
    assert_int_equal(url_parse("http://h/d/", &u), 0);
    memset(name, 'n', 4092);
    name[4092] = '\0';
    assert_int_equal(url_append_name(&u, name), 1); /* "/d/" + 4092 = 4095 */
    assert_int_equal(strlen(u.path), 4095);
    assert_int_equal(url_parse("http://h/d/", &u), 0);
    name[4092] = 'n';
    name[4093] = '\0';
    assert_int_equal(url_append_name(&u, name), -ENAMETOOLONG);
    assert_string_equal(u.path, "/d/");
}

int main(void)
{
    static struct unit_list l;

    UNIT_ADD_ROWS(&l, parse_cases, test_parse);
    unit_add(&l, "parse: host and path length limits", test_parse_limits, NULL);
    UNIT_ADD_ROWS(&l, userinfo_cases, test_userinfo);
    unit_add(&l, "parse: user and password length limits", test_userinfo_limits, NULL);
    UNIT_ADD_ROWS(&l, resolve_cases, test_resolve);
    unit_add(&l, "resolve: only len bytes of the location", test_resolve_takes_the_length, NULL);
    unit_add(&l, "resolve: a location too long", test_resolve_too_long, NULL);
    UNIT_ADD_ROWS(&l, decode_cases, test_decode);
    unit_add(&l, "decode: outsz 0 writes nothing", test_decode_outsz_zero, NULL);
    UNIT_ADD_ROWS(&l, basename_cases, test_basename);
    UNIT_ADD_ROWS(&l, authority_cases, test_authority);
    UNIT_ADD_ROWS(&l, hide_cases, test_hide);
    UNIT_ADD_ROWS(&l, append_cases, test_append);
    unit_add(&l, "append: too long is refused", test_append_too_long, NULL);
    return unit_run("url", &l);
}
