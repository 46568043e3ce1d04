/* Unit tests for proto/path: request targets and raw names to paths beneath
 * the root. Every escape trick is its own named test; every input sits
 * against a guard page. */
#include "unit.h"

#include <errno.h>
#include <stdio.h>

#include "proto/path.h"

#define TS PATH_TRAILING_SLASH
#define HID PATH_HIDDEN
#define MAC PATH_MAC_META

struct path_case {
    const char *name;
    const char *in;
    size_t len;      /* 0: strlen(in) */
    long rc;         /* a negative errno, or 0 for success */
    const char *out; /* the result when rc is 0 */
    unsigned flags;  /* checked when rc is 0 */
};

/* clang-format off */
static const struct path_case target_cases[] = {
    {"root", "/", 0, 0, ".", TS},
    {"plain file", "/a/b.txt", 0, 0, "a/b.txt", 0},
    {"trailing slash", "/dir/", 0, 0, "dir", TS},
    {"dot segments dropped", "/./a/./b/.", 0, 0, "a/b", 0},
    {"dot-dot inside stays inside", "/a/b/../c", 0, 0, "a/c", 0},
    {"dot-dot back to the root", "/a/..", 0, 0, ".", 0},
    {"dot-dot twice back to the root", "/a/b/../../", 0, 0, ".", TS},
    {"escape: ..", "/..", 0, -EACCES, NULL, 0},
    {"escape: ../", "/../", 0, -EACCES, NULL, 0},
    {"escape: /../x", "/../x", 0, -EACCES, NULL, 0},
    {"escape: /a/../../x", "/a/../../x", 0, -EACCES, NULL, 0},
    {"escape: /a/b/../../../etc/passwd", "/a/b/../../../etc/passwd", 0, -EACCES, NULL, 0},
    {"escape: /./../x", "/./../x", 0, -EACCES, NULL, 0},
    {"escape: %2e%2e", "/%2e%2e", 0, -EACCES, NULL, 0},
    {"escape: %2e%2e/x", "/%2e%2e/x", 0, -EACCES, NULL, 0},
    {"escape: .%2e", "/.%2e/x", 0, -EACCES, NULL, 0},
    {"escape: %2e.", "/%2e./x", 0, -EACCES, NULL, 0},
    {"escape: %2E%2E/", "/%2E%2E/", 0, -EACCES, NULL, 0},
    {"escape: a/%2e%2e/%2e%2e/etc", "/a/%2e%2e/%2e%2e/etc", 0, -EACCES, NULL, 0},
    {"escape: %2e%2e%2f as separator", "/%2e%2e%2fx", 0, -EACCES, NULL, 0},
    {"escape: ..%2F..%2F with upper-case hex", "/a%2F..%2F..%2Fx", 0, -EACCES, NULL, 0},
    {"escape: %2e%2e with a query", "/%2e%2e?x=1", 0, -EACCES, NULL, 0},
    {"%252e%252e decodes once to a name", "/%252e%252e", 0, 0, "%2e%2e", 0},
    {"%252e%252e/x decodes once to a name", "/%252e%252e/x", 0, 0, "%2e%2e/x", 0},
    {"%2e alone is a dot segment", "/a/%2e/b", 0, 0, "a/b", 0},
    {"%00 is refused", "/a%00b", 0, -EINVAL, NULL, 0},
    {"%00 at the end is refused", "/a%00", 0, -EINVAL, NULL, 0},
    {"raw NUL is refused", "/a\0b", 4, -EINVAL, NULL, 0},
    {"%2500 decodes to the name %00", "/%2500", 0, 0, "%00", 0},
    {"double slash", "//", 0, 0, ".", TS},
    {"///etc/passwd stays beneath the root", "///etc/passwd", 0, 0, "etc/passwd", 0},
    {"doubled slashes inside", "/a//b///c", 0, 0, "a/b/c", 0},
    {"backslash dot-dot is an ordinary name", "/..\\..\\x", 0, 0, "..\\..\\x", HID},
    {"backslashes inside a name", "/a\\..\\..\\b", 0, 0, "a\\..\\..\\b", 0},
    {"%5c is an ordinary byte", "/..%5c..%5cx", 0, 0, "..\\..\\x", HID},
    {"%2f is a separator", "/a%2fb", 0, 0, "a/b", 0},
    {"%2F at the end is a trailing slash", "/a%2F", 0, 0, "a", TS},
    {"bad escape: % alone", "/%", 0, -EINVAL, NULL, 0},
    {"bad escape: % at the end", "/a%", 0, -EINVAL, NULL, 0},
    {"bad escape: one hex digit", "/%4", 0, -EINVAL, NULL, 0},
    {"bad escape: one hex digit then more", "/%4/x", 0, -EINVAL, NULL, 0},
    {"bad escape: %zz", "/%zz", 0, -EINVAL, NULL, 0},
    {"bad escape: %g0", "/a%g0", 0, -EINVAL, NULL, 0},
    {"bad escape: %%41", "/%%41", 0, -EINVAL, NULL, 0},
    {"bad escape: sign", "/%+1", 0, -EINVAL, NULL, 0},
    {"escape at the very end", "/%41", 0, 0, "A", 0},
    {"lower-case and upper-case hex", "/%4a%4A", 0, 0, "JJ", 0},
    {"escaped space and UTF-8", "/a%20b/%E4%B8%AD", 0, 0, "a b/\xe4\xb8\xad", 0},
    {"query stripped", "/a?b=../../x", 0, 0, "a", 0},
    {"fragment stripped", "/a#frag/../..", 0, 0, "a", 0},
    {"query after a trailing slash", "/a/?x", 0, 0, "a", TS},
    {"query on the root", "/?x", 0, 0, ".", TS},
    {"bad escape in the query is ignored", "/a?%zz", 0, 0, "a", 0},
    {"escaped question mark is a name byte", "/a%3Fb", 0, 0, "a?b", 0},
    {"escaped hash is a name byte", "/a%23b", 0, 0, "a#b", 0},
    {"hidden file", "/.env", 0, 0, ".env", HID},
    {"hidden directory", "/a/.git/config", 0, 0, "a/.git/config", HID},
    {"encoded hidden name", "/%2ehidden", 0, 0, ".hidden", HID},
    {"three dots is a hidden name", "/...", 0, 0, "...", HID},
    {"hidden segment removed by dot-dot", "/a/.x/../b", 0, 0, "a/b", 0},
    {"dots inside a name are not hidden", "/a..b/c.", 0, 0, "a..b/c.", 0},
    {"hidden and trailing slash", "/.well-known/", 0, 0, ".well-known", HID | TS},
    {"mac: AppleDouble file", "/a/._x.txt", 0, 0, "a/._x.txt", HID | MAC},
    {"mac: AppleDouble encoded", "/%2e_x", 0, 0, "._x", HID | MAC},
    {"mac: .DS_Store", "/a/.DS_Store", 0, 0, "a/.DS_Store", HID | MAC},
    {"mac: ._ alone is hidden only", "/._", 0, 0, "._", HID},
    {"mac: .DS_Store with a trailing slash is a folder", "/.DS_Store/", 0, 0, ".DS_Store", HID | TS},
    {"mac: ._x as a folder on the way", "/._x/y", 0, 0, "._x/y", HID},
    {"mac: inside a hidden folder stays hidden", "/.git/._x", 0, 0, ".git/._x", HID},
    {"mac: two of them", "/._a/._b", 0, 0, "._a/._b", HID},
    {"mac: .ds_store in lower case is hidden only", "/.ds_store", 0, 0, ".ds_store", HID},
    {"mac: .DS_Store.x is hidden only", "/.DS_Store.x", 0, 0, ".DS_Store.x", HID},
    {"mac: ._ reached by dot-dot", "/.git/../._x", 0, 0, "._x", HID | MAC},
    {"mac: ._ of a reserved name is reserved too", "/.ferry-up/._x", 0, 0, ".ferry-up/._x",
     HID | PATH_RESERVED},
    {"no leading slash", "a/b", 0, -EINVAL, NULL, 0},
    {"empty target", "", 0, -EINVAL, NULL, 0},
    {"absolute form is not a path", "http://x/", 0, -EINVAL, NULL, 0},
    {"query alone", "?x", 0, -EINVAL, NULL, 0},
    {"asterisk", "*", 0, -EINVAL, NULL, 0},
};

static const struct path_case normalise_cases[] = {
    {"normalise: empty is the root", "", 0, 0, ".", 0},
    {"normalise: dot is the root", ".", 0, 0, ".", 0},
    {"normalise: slash is the root", "/", 0, 0, ".", TS},
    {"normalise: plain", "a/b", 0, 0, "a/b", 0},
    {"normalise: leading and trailing slashes", "/a/b/", 0, 0, "a/b", TS},
    {"normalise: doubled slashes", "//a//b//", 0, 0, "a/b", TS},
    {"normalise: dot segments", "./a/./b/.", 0, 0, "a/b", 0},
    {"normalise: dot-dot inside", "a/b/../c", 0, 0, "a/c", 0},
    {"normalise: dot-dot to the root", "a/..", 0, 0, ".", 0},
    {"normalise: escape: ..", "..", 0, -EACCES, NULL, 0},
    {"normalise: escape: ../a", "../a", 0, -EACCES, NULL, 0},
    {"normalise: escape: a/../..", "a/../..", 0, -EACCES, NULL, 0},
    {"normalise: escape: a/b/../../../x", "a/b/../../../x", 0, -EACCES, NULL, 0},
    {"normalise: escape: /../x", "/../x", 0, -EACCES, NULL, 0},
    {"normalise: no decoding: %2e%2e is a name", "%2e%2e", 0, 0, "%2e%2e", 0},
    {"normalise: no decoding: %2e%2e then dot-dot", "%2e%2e/../x", 0, 0, "x", 0},
    {"normalise: no decoding: %2f is not a separator", "a%2fb", 0, 0, "a%2fb", 0},
    {"normalise: no decoding: %00 is a name", "%00", 0, 0, "%00", 0},
    {"normalise: backslash is an ordinary byte", "..\\..\\x", 0, 0, "..\\..\\x", HID},
    {"normalise: NUL is refused", "a\0b", 3, -EINVAL, NULL, 0},
    {"normalise: NUL at the end is refused", "a\0", 2, -EINVAL, NULL, 0},
    {"normalise: hidden", "a/.b", 0, 0, "a/.b", HID},
    {"normalise: hidden removed", "a/.b/../c", 0, 0, "a/c", 0},
    {"normalise: query bytes are name bytes", "a?b#c", 0, 0, "a?b#c", 0},
};
/* clang-format on */

typedef long (*path_fn)(const char *, size_t, char *, size_t, unsigned *);

static void run_case(const struct path_case *c, path_fn fn)
{
    size_t len = c->len ? c->len : strlen(c->in);
    char out[PATH_MAX_LEN + 1];
    unsigned flags = 0xdead;
    struct guard g;

    guard_open(&g, len);
    memset(out, 'Z', sizeof out);
    long rc = fn(guard_put(&g, c->in, len), len, out, sizeof out, &flags);
    if (c->rc < 0) {
        if (rc != c->rc)
            fail_msg("%s: returned %ld, want %ld", c->name, rc, c->rc);
    } else {
        if (rc != (long)strlen(c->out) || strcmp(out, c->out) != 0)
            fail_msg("%s: returned %ld \"%.*s\", want \"%s\"", c->name, rc, rc > 0 ? (int)rc : 0,
                     out, c->out);
        if (flags != c->flags)
            fail_msg("%s: flags %#x, want %#x", c->name, flags, c->flags);
    }
    guard_close(&g);
}

static void test_target(void **state)
{
    run_case(*state, path_from_target);
}
static void test_normalise(void **state)
{
    run_case(*state, path_normalise);
}

/* The output buffer needs the result and its NUL: not one byte less. */
static void test_outsz_exact(void **state)
{
    static const struct {
        const char *in, *out;
    } rows[] = {{"/abc", "abc"}, {"/a/b/c", "a/b/c"}, {"/", "."}, {"/x/..", "."}};
    char out[16];
    unsigned flags;

    for (size_t i = 0; i < ARRAY_LEN(rows); i++) {
        size_t need = strlen(rows[i].out) + 1;
        long rc = path_from_target(rows[i].in, strlen(rows[i].in), out, need, &flags);
        if (rc != (long)need - 1 || strcmp(out, rows[i].out) != 0)
            fail_msg("%s with %zu bytes: %ld", rows[i].in, need, rc);
        for (size_t sz = 0; sz < need; sz++) {
            memset(out, 'Z', sizeof out);
            rc = path_from_target(rows[i].in, strlen(rows[i].in), out, sz, &flags);
            if (rc != -ENAMETOOLONG)
                fail_msg("%s with %zu bytes: %ld, want -ENAMETOOLONG", rows[i].in, sz, rc);
            for (size_t k = sz; k < sizeof out; k++)
                if (out[k] != 'Z')
                    fail_msg("%s with %zu bytes: wrote byte %zu", rows[i].in, sz, k);
        }
    }
}

/* A decoded path longer than PATH_MAX_LEN is refused; what counts is the
 * decoded length, so a long but escaped target of a short name is fine. */
static void test_too_long(void **state)
{
    static char in[3 * PATH_MAX_LEN + 16], out[PATH_MAX_LEN + 1];
    unsigned flags;
    struct guard g;

    guard_open(&g, sizeof in);
    in[0] = '/';
    memset(in + 1, 'a', PATH_MAX_LEN);
    long rc = path_from_target(guard_put(&g, in, PATH_MAX_LEN + 1), PATH_MAX_LEN + 1, out,
                               sizeof out, &flags);
    assert_int_equal(rc, -ENAMETOOLONG);

    /* "/" and 4095 bytes decode to 4096 bytes: the largest that fits. */
    rc = path_from_target(guard_put(&g, in, PATH_MAX_LEN), PATH_MAX_LEN, out, sizeof out, &flags);
    assert_int_equal(rc, PATH_MAX_LEN - 1);

    /* 1500 escaped bytes are 4501 target bytes but a 1500-byte name. */
    size_t n = 1;
    for (int k = 0; k < 1500; k++) {
        memcpy(in + n, "%61", 3);
        n += 3;
    }
    rc = path_from_target(guard_put(&g, in, n), n, out, sizeof out, &flags);
    assert_int_equal(rc, 1500);
    assert_int_equal(strspn(out, "a"), 1500);

    /* A long name that dot-dot removes again. */
    n = 1 + 3000;
    memset(in + 1, 'b', 3000);
    memcpy(in + n, "/../c", 5);
    n += 5;
    rc = path_from_target(guard_put(&g, in, n), n, out, sizeof out, &flags);
    assert_int_equal(rc, 1);
    assert_string_equal(out, "c");
    guard_close(&g);
}

/* path_normalise has no length limit of its own beyond the output buffer. */
static void test_normalise_long(void **state)
{
    static char in[PATH_MAX_LEN * 2], out[PATH_MAX_LEN * 2 + 1];
    unsigned flags;

    memset(in, 'x', sizeof in);
    for (size_t k = 100; k < sizeof in; k += 100)
        in[k] = '/';
    long rc = path_normalise(in, sizeof in, out, sizeof out, &flags);
    assert_int_equal(rc, (long)sizeof in);
    assert_memory_equal(out, in, sizeof in);
    assert_int_equal(path_normalise(in, sizeof in, out, sizeof in, &flags), -ENAMETOOLONG);
    assert_int_equal(path_normalise("a", 1, out, 1, &flags), -ENAMETOOLONG);
    assert_int_equal(path_normalise("", 0, out, 1, &flags), -ENAMETOOLONG);
    assert_int_equal(path_normalise("", 0, out, 2, &flags), 1);
    assert_string_equal(out, ".");
}

/* path_refused: which flags a request may not name. */
struct refuse_case {
    const char *name;
    unsigned flags;
    bool hidden, mac, refused;
};

/* clang-format off */
static const struct refuse_case refuse_cases[] = {
    {"refuse: plain name", 0, false, true, false},
    {"refuse: hidden", HID, false, true, true},
    {"refuse: hidden with --hidden", HID, true, true, false},
    {"refuse: mac file", HID | MAC, false, true, false},
    {"refuse: mac file with --no-mac-files", HID | MAC, false, false, true},
    {"refuse: mac file with --hidden and --no-mac-files", HID | MAC, true, false, false},
    {"refuse: reserved", HID | PATH_RESERVED, false, true, true},
    {"refuse: reserved with --hidden", HID | PATH_RESERVED, true, true, true},
    {"refuse: trailing slash on a plain folder", TS, false, true, false},
};
/* clang-format on */

static void test_refused(void **state)
{
    const struct refuse_case *c = *state;

    assert_int_equal(path_refused(c->flags, c->hidden, c->mac), c->refused);
}

static void test_mac_meta_names(void **state)
{
    (void)state;
    assert_true(path_mac_meta("._a", 3));
    assert_true(path_mac_meta(".DS_Store", 9));
    assert_false(path_mac_meta("._", 2));
    assert_false(path_mac_meta("._a/b", 5));
    assert_false(path_mac_meta(".DS_Stor", 8));
    assert_false(path_mac_meta("_.a", 3));
    assert_false(path_mac_meta("", 0));
}

int main(void)
{
    static struct unit_list l;

    UNIT_ADD_ROWS(&l, target_cases, test_target);
    UNIT_ADD_ROWS(&l, normalise_cases, test_normalise);
    UNIT_ADD_ROWS(&l, refuse_cases, test_refused);
    unit_add(&l, "mac metadata names", test_mac_meta_names, NULL);
    unit_add(&l, "output buffer sized exactly", test_outsz_exact, NULL);
    unit_add(&l, "decoded length limit", test_too_long, NULL);
    unit_add(&l, "normalise of a long path", test_normalise_long, NULL);
    return unit_run("path", &l);
}
