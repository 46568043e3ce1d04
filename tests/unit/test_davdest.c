/* Unit tests for proto/davdest: Destination, Overwrite and Depth of COPY
 * and MOVE, and the refusals decided before the tree is touched. Each
 * Destination row is parsed at every truncation, placed against a guard
 * page so that a read past the value crashes. */
#include "unit.h"

#include <errno.h>
#include <stdio.h>

#include "proto/davdest.h"
#include "proto/path.h"

#define PLAIN false
#define TLS true

struct dest_case {
    const char *name;
    const char *dest;
    const char *host; /* NULL: no Host header */
    bool tls;
    int want;        /* 0 or a status */
    const char *rel; /* when want is 0 */
    unsigned flags;
};

/* clang-format off */
static const struct dest_case dest_cases[] = {
    {"absolute path", "/a/b", "h:8", PLAIN, 0, "a/b", 0},
    {"absolute path to the root", "/", "h:8", PLAIN, 0, ".", PATH_TRAILING_SLASH},
    {"absolute path with a slash", "/d/", "h:8", PLAIN, 0, "d", PATH_TRAILING_SLASH},
    {"absolute path without Host", "/a", NULL, PLAIN, 0, "a", 0},
    {"URI on this server", "http://h:8/a/b", "h:8", PLAIN, 0, "a/b", 0},
    {"URI, host in another case", "http://H:8/a", "h:8", PLAIN, 0, "a", 0},
    {"URI, scheme in capitals", "HTTP://h:8/a", "h:8", PLAIN, 0, "a", 0},
    {"URI, default port spelled", "http://h:80/a", "h", PLAIN, 0, "a", 0},
    {"URI, default port left out", "http://h/a", "h:80", PLAIN, 0, "a", 0},
    {"https URI over TLS", "https://h/a", "h:443", TLS, 0, "a", 0},
    {"IPv6 literal", "http://[::1]:8/x", "[::1]:8", PLAIN, 0, "x", 0},
    {"percent-decoded once", "http://h/a%20b/%252e", "h", PLAIN, 0, "a b/%2e", 0},
    {"query and fragment dropped", "http://h/a?x=1#f", "h", PLAIN, 0, "a", 0},
    {"authority alone is the root", "http://h", "h", PLAIN, 0, ".", PATH_TRAILING_SLASH},
    {"authority then a query", "http://h?q", "h", PLAIN, 0, ".", PATH_TRAILING_SLASH},
    {"blanks around", " \thttp://h/a \t", "h", PLAIN, 0, "a", 0},
    {"dot segments inside", "http://h/a/./b/../c", "h", PLAIN, 0, "a/c", 0},
    {"hidden name flagged", "/a/.x", "h", PLAIN, 0, "a/.x", PATH_HIDDEN},
    {"reserved name flagged", "/.ferry-up.1", "h", PLAIN, 0, ".ferry-up.1",
     PATH_HIDDEN | PATH_RESERVED},
    /* Another server: 502. */
    {"another host", "http://other:8/a", "h:8", PLAIN, 502, NULL, 0},
    {"another port", "http://h:9/a", "h:8", PLAIN, 502, NULL, 0},
    {"default port against another", "http://h/a", "h:8", PLAIN, 502, NULL, 0},
    {"https on a plain connection", "https://h:8/a", "h:8", PLAIN, 502, NULL, 0},
    {"http on TLS", "http://h:8/a", "h:8", TLS, 502, NULL, 0},
    {"another scheme", "ftp://h:8/a", "h:8", PLAIN, 502, NULL, 0},
    {"host a prefix of ours", "http://h/a", "hh", PLAIN, 502, NULL, 0},
    {"bad port is no name of ours", "http://h:99999/a", "h", PLAIN, 502, NULL, 0},
    /* Above the root: 403. */
    {"path above the root", "/../x", "h", PLAIN, 403, NULL, 0},
    {"URI above the root", "http://h/a/../../x", "h", PLAIN, 403, NULL, 0},
    {"escaped dots above the root", "/%2e%2e/x", "h", PLAIN, 403, NULL, 0},
    /* Malformed: 400. */
    {"empty", "", "h", PLAIN, 400, NULL, 0},
    {"blanks only", "  ", "h", PLAIN, 400, NULL, 0},
    {"relative path", "a/b", "h", PLAIN, 400, NULL, 0},
    {"network-path reference", "//h/a", "h", PLAIN, 400, NULL, 0},
    {"no slashes after the scheme", "http:h/a", "h", PLAIN, 400, NULL, 0},
    {"empty authority", "http:///a", "h", PLAIN, 400, NULL, 0},
    {"user information", "http://u@h/a", "h", PLAIN, 400, NULL, 0},
    {"URI without Host", "http://h/a", NULL, PLAIN, 400, NULL, 0},
    {"URI with a bad Host", "http://h/a", "h:x", PLAIN, 400, NULL, 0},
    {"bad escape", "/a%zz", "h", PLAIN, 400, NULL, 0},
    {"escape cut short", "/a%4", "h", PLAIN, 400, NULL, 0},
    {"escaped NUL", "/a%00b", "h", PLAIN, 400, NULL, 0},
    {"scheme starting with a digit", "1http://h/a", "h", PLAIN, 400, NULL, 0},
    {"colon alone", ":", "h", PLAIN, 400, NULL, 0},
};
/* clang-format on */

static int parse_guarded(const char *v, size_t len, const struct dest_case *c, char *out,
                         unsigned *flags)
{
    struct guard g;
    struct davdest_self self = {
        .host = c->host, .host_len = c->host ? strlen(c->host) : 0, .tls = c->tls};

    guard_open(&g, len + 1);
    int rc = davdest_parse(guard_put(&g, v, len), len, &self, out, PATH_MAX_LEN, flags);
    guard_close(&g);
    return rc;
}

static void test_dest(void **state)
{
    const struct dest_case *c = *state;
    char out[PATH_MAX_LEN + 16];
    unsigned flags = 0;
    size_t len = strlen(c->dest);

    int rc = parse_guarded(c->dest, len, c, out, &flags);
    if (rc != c->want)
        fail_msg("%s: \"%s\" gave %d, want %d", c->name, c->dest, rc, c->want);
    if (rc == 0 && (strcmp(out, c->rel) != 0 || flags != c->flags))
        fail_msg("%s: \"%s\" (flags %x), want \"%s\" (%x)", c->name, out, flags, c->rel, c->flags);
    /* Every truncation parses without reading past its end; whatever it
     * says is one of the documented answers. */
    for (size_t n = 0; n < len; n++) {
        rc = parse_guarded(c->dest, n, c, out, &flags);
        if (rc != 0 && rc != 400 && rc != 403 && rc != 414 && rc != 502)
            fail_msg("%s: truncated to %zu gave %d", c->name, n, rc);
    }
}

/* A Destination too long for a path is 414, never a cut path. */
static void test_dest_too_long(void **state)
{
    (void)state;
    static char v[PATH_MAX_LEN + 64];
    char out[PATH_MAX_LEN + 16];
    unsigned flags;
    struct davdest_self self = {.host = "h", .host_len = 1};

    v[0] = '/';
    memset(v + 1, 'a', sizeof v - 2);
    assert_int_equal(davdest_parse(v, sizeof v - 1, &self, out, PATH_MAX_LEN, &flags), 414);
    assert_int_equal(davdest_parse(NULL, 0, &self, out, PATH_MAX_LEN, &flags), 400);
}

struct ow_case {
    const char *name;
    const char *v; /* NULL: absent */
    int want;
};

/* clang-format off */
static const struct ow_case ow_cases[] = {
    {"Overwrite absent is T", NULL, 1},
    {"Overwrite T", "T", 1},
    {"Overwrite F", "F", 0},
    {"Overwrite F with blanks", " F\t", 0},
    {"Overwrite lower t", "t", -EINVAL},
    {"Overwrite empty", "", -EINVAL},
    {"Overwrite TRUE", "TRUE", -EINVAL},
    {"Overwrite TF", "TF", -EINVAL},
    {"Overwrite 1", "1", -EINVAL},
};
/* clang-format on */

static void test_overwrite(void **state)
{
    const struct ow_case *c = *state;
    struct guard g;
    int rc;

    if (c->v == NULL) {
        rc = davdest_overwrite(NULL, 0);
    } else {
        guard_open(&g, strlen(c->v) + 1);
        rc = davdest_overwrite(guard_put(&g, c->v, strlen(c->v)), strlen(c->v));
        guard_close(&g);
    }
    if (rc != c->want)
        fail_msg("%s: %d, want %d", c->name, rc, c->want);
}

struct depth_case {
    const char *name;
    const char *v;
    bool move, coll;
    int want;
};

/* clang-format off */
static const struct depth_case depth_cases[] = {
    {"COPY Depth absent is infinity", NULL, false, true, DAVDEST_DEPTH_INFINITY},
    {"COPY Depth 0", "0", false, true, DAVDEST_DEPTH_0},
    {"COPY Depth infinity", "infinity", false, true, DAVDEST_DEPTH_INFINITY},
    {"COPY Depth Infinity in capitals", "Infinity", false, true, DAVDEST_DEPTH_INFINITY},
    {"COPY Depth 1 refused", "1", false, true, -EINVAL},
    {"COPY Depth 1 of a file refused", "1", false, false, -EINVAL},
    {"COPY Depth empty", "", false, true, -EINVAL},
    {"COPY Depth 00", "00", false, true, -EINVAL},
    {"COPY Depth infinit", "infinit", false, true, -EINVAL},
    {"MOVE Depth absent is infinity", NULL, true, true, DAVDEST_DEPTH_INFINITY},
    {"MOVE Depth infinity", "infinity", true, true, DAVDEST_DEPTH_INFINITY},
    {"MOVE Depth 0 of a collection refused", "0", true, true, -EINVAL},
    {"MOVE Depth 0 of a file", "0", true, false, DAVDEST_DEPTH_0},
    {"MOVE Depth 1 refused", "1", true, false, -EINVAL},
};
/* clang-format on */

static void test_depth(void **state)
{
    const struct depth_case *c = *state;
    int rc = davdest_depth(c->v, c->v ? strlen(c->v) : 0, c->move, c->coll);

    if (rc != c->want)
        fail_msg("%s: %d, want %d", c->name, rc, c->want);
}

struct refuse_case {
    const char *name;
    const char *src, *dst;
    bool coll;
    int depth;
    bool overwrite;
    int rel; /* enum davdest_rel */
    int want;
};

/* clang-format off */
static const struct refuse_case refuse_cases[] = {
    {"same file", "a", "a", false, DAVDEST_DEPTH_INFINITY, true, DAVDEST_SAME, 403},
    {"same folder", "d", "d", true, DAVDEST_DEPTH_0, false, DAVDEST_SAME, 403},
    {"folder into itself", "d", "d/e", true, DAVDEST_DEPTH_INFINITY, false, DAVDEST_INSIDE, 403},
    {"folder deep into itself", "d", "d/e/f", true, DAVDEST_DEPTH_INFINITY, true,
     DAVDEST_INSIDE, 403},
    {"root into itself", ".", "x", true, DAVDEST_DEPTH_INFINITY, true, DAVDEST_INSIDE, 403},
    {"folder Depth 0 into itself", "d", "d/e", true, DAVDEST_DEPTH_0, false, DAVDEST_INSIDE, 0},
    {"file under itself (409 later)", "a", "a/b", false, DAVDEST_DEPTH_INFINITY, true,
     DAVDEST_INSIDE, 0},
    {"onto its own parent, Overwrite T", "d/e", "d", false, DAVDEST_DEPTH_INFINITY, true,
     DAVDEST_CONTAINS, 403},
    {"onto the root, Overwrite T", "d/e", ".", true, DAVDEST_DEPTH_INFINITY, true,
     DAVDEST_CONTAINS, 403},
    {"onto its own parent, Overwrite F (412 later)", "d/e", "d", false, DAVDEST_DEPTH_INFINITY,
     false, DAVDEST_CONTAINS, 0},
    {"a sibling", "d", "e", true, DAVDEST_DEPTH_INFINITY, true, DAVDEST_APART, 0},
    {"a name that only starts the same", "d", "dd/x", true, DAVDEST_DEPTH_INFINITY, true,
     DAVDEST_APART, 0},
    {"a prefix name", "dd", "d", true, DAVDEST_DEPTH_INFINITY, true, DAVDEST_APART, 0},
};
/* clang-format on */

static void test_refuse(void **state)
{
    const struct refuse_case *c = *state;

    if ((int)davdest_relation(c->src, c->dst) != c->rel)
        fail_msg("%s: relation %d, want %d", c->name, davdest_relation(c->src, c->dst), c->rel);
    int rc = davdest_refuse(c->src, c->dst, c->coll, (enum davdest_depth)c->depth, c->overwrite);
    if (rc != c->want)
        fail_msg("%s: %d, want %d", c->name, rc, c->want);
}

int main(void)
{
    static struct unit_list l;

    UNIT_ADD_ROWS(&l, dest_cases, test_dest);
    unit_add(&l, "Destination too long is 414", test_dest_too_long, NULL);
    UNIT_ADD_ROWS(&l, ow_cases, test_overwrite);
    UNIT_ADD_ROWS(&l, depth_cases, test_depth);
    UNIT_ADD_ROWS(&l, refuse_cases, test_refuse);
    return unit_run("davdest", &l);
}
