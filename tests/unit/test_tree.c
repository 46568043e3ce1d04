/* Unit tests for proto/tree: tree_link (children, hostile links: parents,
 * %2e%2e, %2f, other hosts, variants, fragments, long and control-byte
 * names), tree_safe_name and tree_html_links. Inputs sit against a guard
 * page, so reading past their end crashes. */
#include "unit.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>

#include "proto/tree.h"

#define ORIGIN "http://127.0.0.1:8080"

struct link_case {
    const char *name;
    const char *base;
    const char *href;
    enum tree_link want;
    const char *child; /* for TREE_CHILD */
    bool dir;
    const char *raw; /* the server's name when it is not child */
};

static const struct link_case link_cases[] = {
    {"link: a file beneath", "/d/", "a.txt", TREE_CHILD, "a.txt", false, NULL},
    {"link: a folder beneath", "/d/", "sub/", TREE_CHILD, "sub", true, NULL},
    {"link: ./ prefix", "/d/", "./a.txt", TREE_CHILD, "a.txt", false, NULL},
    {"link: absolute path beneath", "/d/", "/d/a.txt", TREE_CHILD, "a.txt", false, NULL},
    {"link: absolute URL on the origin", "/d/", ORIGIN "/d/x", TREE_CHILD, "x", false, NULL},
    {"link: origin case-insensitive", "/d/", "HTTP://127.0.0.1:8080/d/x", TREE_CHILD, "x", false,
     NULL},
    {"link: scheme-relative on the origin", "/d/", "//127.0.0.1:8080/d/x", TREE_CHILD, "x", false,
     NULL},
    {"link: percent-decoded name", "/d/", "a%20b%C3%A9", TREE_CHILD, "a b\xc3\xa9", false, NULL},
    {"link: fragment cut", "/d/", "a.txt#top", TREE_CHILD, "a.txt", false, NULL},
    {"link: control bytes made _", "/d/", "a%01%0a%7fb", TREE_CHILD, "a___b", false,
     "a\x01\n\x7f"
     "b"},
    {"link: backslash made _", "/d/", "a%5cb", TREE_CHILD, "a_b", false, "a\\b"},
    {"link: hidden name kept", "/d/", ".profile", TREE_CHILD, ".profile", false, NULL},
    {"link: root base", "/", "f", TREE_CHILD, "f", false, NULL},
    {"link: encoded base", "/a%20b/", "/a b/f", TREE_CHILD, "f", false, NULL},
    {"link: sub/.. back to a child", "/d/", "x/../y", TREE_CHILD, "y", false, NULL},
    {"link: parent", "/d/", "../", TREE_OUTSIDE, NULL, false, NULL},
    {"link: parent file", "/d/", "../secret", TREE_OUTSIDE, NULL, false, NULL},
    {"link: above the root", "/d/", "../../../etc/passwd", TREE_OUTSIDE, NULL, false, NULL},
    {"link: %2e%2e is a parent", "/d/", "%2e%2e/x", TREE_OUTSIDE, NULL, false, NULL},
    {"link: %2E%2E upper case", "/d/", "%2E%2E/%2E%2E/x", TREE_OUTSIDE, NULL, false, NULL},
    {"link: .%2e mixed", "/d/", ".%2e/x", TREE_OUTSIDE, NULL, false, NULL},
    {"link: %2f in a name", "/d/", "a%2fb", TREE_BAD_NAME, NULL, false, NULL},
    {"link: %2f..%2f in a name", "/d/", "%2f..%2fetc", TREE_BAD_NAME, NULL, false, NULL},
    {"link: %00 in a name", "/d/", "a%00b", TREE_BAD_NAME, NULL, false, NULL},
    {"link: absolute path elsewhere", "/d/", "/etc/passwd", TREE_OUTSIDE, NULL, false, NULL},
    {"link: a sibling folder with the same prefix", "/d/", "/dx/f", TREE_OUTSIDE, NULL, false,
     NULL},
    {"link: deeper than one level", "/d/", "a/b", TREE_OUTSIDE, NULL, false, NULL},
    {"link: another host", "/d/", "http://evil.example/d/x", TREE_OUTSIDE, NULL, false, NULL},
    {"link: another port", "/d/", "http://127.0.0.1:8081/d/x", TREE_OUTSIDE, NULL, false, NULL},
    {"link: origin as a prefix of a host", "/d/", ORIGIN "0/d/x", TREE_OUTSIDE, NULL, false, NULL},
    {"link: scheme-relative elsewhere", "/d/", "//evil.example/d/x", TREE_OUTSIDE, NULL, false,
     NULL},
    {"link: https on the same host", "/d/", "https://127.0.0.1:8080/d/x", TREE_OUTSIDE, NULL, false,
     NULL},
    {"link: mailto", "/d/", "mailto:a@b", TREE_OUTSIDE, NULL, false, NULL},
    {"link: javascript", "/d/", "javascript:alert(1)", TREE_OUTSIDE, NULL, false, NULL},
    {"link: ?sort variant", "/d/", "?sort=size&order=desc", TREE_VARIANT, NULL, false, NULL},
    {"link: ?tar variant", "/d/", "?tar", TREE_VARIANT, NULL, false, NULL},
    {"link: folder with a sort", "/d/", "sub/?sort=date", TREE_VARIANT, NULL, false, NULL},
    {"link: apache ?C=N;O=D", "/d/", "?C=N;O=D", TREE_VARIANT, NULL, false, NULL},
    {"link: the folder itself", "/d/", "./", TREE_SELF, NULL, false, NULL},
    {"link: empty", "/d/", "", TREE_SELF, NULL, false, NULL},
    {"link: only a fragment", "/d/", "#x", TREE_SELF, NULL, false, NULL},
    {"link: the folder, absolute", "/d/", "/d/", TREE_SELF, NULL, false, NULL},
    {"link: the folder without its slash", "/d/", "/d", TREE_SELF, NULL, false, NULL},
};

static void test_link(void **state)
{
    const struct link_case *c = *state;
    struct guard g;
    struct tree_child ch;
    size_t len = strlen(c->href);

    guard_open(&g, len + 1);
    const char *h = guard_put(&g, c->href, len);
    enum tree_link got = tree_link(ORIGIN, c->base, h, len, &ch);
    guard_close(&g);
    if (got != c->want)
        fail_msg("%s: got %d, want %d", c->name, got, c->want);
    if (c->want == TREE_CHILD) {
        assert_string_equal(ch.name, c->child);
        assert_string_equal(ch.raw, c->raw != NULL ? c->raw : c->child);
        assert_int_equal(ch.dir, c->dir);
    }
}

/* A name of 255 bytes is a child; one of 256 is bad. */
static void test_link_long_names(void **state)
{
    static char href[300];
    struct tree_child ch;

    (void)state;
    memset(href, 'n', 255);
    href[255] = '\0';
    assert_int_equal(tree_link(ORIGIN, "/d/", href, 255, &ch), TREE_CHILD);
    assert_int_equal(strlen(ch.name), 255);
    href[255] = 'n';
    assert_int_equal(tree_link(ORIGIN, "/d/", href, 256, &ch), TREE_BAD_NAME);
    static char huge[20000];
    memset(huge, 'a', sizeof huge - 1);
    assert_int_not_equal(tree_link(ORIGIN, "/d/", huge, sizeof huge - 1, &ch), TREE_CHILD);
}

struct safe_case {
    const char *name;
    const char *in;
    size_t len;
    int want;
    const char *out;
};

static const struct safe_case safe_cases[] = {
    {"safe: plain", "a.txt", 5, 0, "a.txt"},
    {"safe: empty", "", 0, -EINVAL, NULL},
    {"safe: dot", ".", 1, -EINVAL, NULL},
    {"safe: dot dot", "..", 2, -EINVAL, NULL},
    {"safe: three dots is a name", "...", 3, 0, "..."},
    {"safe: slash", "a/b", 3, -EINVAL, NULL},
    {"safe: absolute", "/etc", 4, -EINVAL, NULL},
    {"safe: NUL", "a\0b", 3, -EINVAL, NULL},
    {"safe: controls", "\x1b[31mx\r\n", 8, 0, "_[31mx__"},
    {"safe: backslash", "..\\..\\x", 7, 0, ".._.._x"},
};

static void test_safe(void **state)
{
    const struct safe_case *c = *state;
    char out[TREE_NAME_MAX + 1];

    int rc = tree_safe_name(c->in, c->len, out, sizeof out);
    assert_int_equal(rc, c->want);
    if (rc == 0)
        assert_string_equal(out, c->out);
}

struct links {
    char got[8][64];
    int n;
};

static int collect(void *arg, const char *href, size_t hlen)
{
    struct links *l = arg;

    assert_true(l->n < 8);
    assert_true(hlen < 64);
    memcpy(l->got[l->n], href, hlen);
    l->got[l->n][hlen] = '\0';
    l->n++;
    return 0;
}

struct html_case {
    const char *name;
    const char *html;
    int n;
    const char *want[4];
};

static const struct html_case html_cases[] = {
    {"html: double quotes", "<a href=\"a.txt\">a</a>", 1, {"a.txt"}},
    {"html: single quotes", "<A HREF='b'>b</A>", 1, {"b"}},
    {"html: unquoted", "<a class=x href=c/ >c</a>", 1, {"c/"}},
    {"html: entities", "<a href=\"?sort=a&amp;order=b\">", 1, {"?sort=a&order=b"}},
    {"html: numeric entity", "<a href=\"a&#38;b\">", 1, {"a&b"}},
    {"html: > inside a quoted value", "<a title=\"x>y\" href=\"z\">", 1, {"z"}},
    {"html: several",
     "<p><a href=\"1\">1</a><br><a href=\"2/\">2</a><abbr href=\"no\">",
     2,
     {"1", "2/"}},
    {"html: not an a", "<link href=\"s.css\"><area href=\"m\">", 0, {NULL}},
    {"html: cut short", "<a href=\"ab", 1, {"ab"}},
    {"html: an a without href", "<a name=top>x</a>", 0, {NULL}},
};

static void test_html(void **state)
{
    const struct html_case *c = *state;
    struct links l = {0};
    char scratch[64];
    struct guard g;
    size_t len = strlen(c->html);

    guard_open(&g, len + 1);
    const char *h = guard_put(&g, c->html, len);
    assert_int_equal(tree_html_links(h, len, scratch, sizeof scratch, collect, &l), 0);
    guard_close(&g);
    assert_int_equal(l.n, c->n);
    for (int i = 0; i < c->n; i++)
        assert_string_equal(l.got[i], c->want[i]);
}

/* Every truncation of a page is scanned without reading past its end. */
static void test_html_truncations(void **state)
{
    static const char page[] = "<html><a href=\"x\">x</a> <a href='y/'>y</a> <a href=z>z</a>";
    char scratch[64];

    (void)state;
    for (size_t len = 0; len <= sizeof page - 1; len++) {
        struct links l = {0};
        struct guard g;
        guard_open(&g, len + 1);
        const char *h = guard_put(&g, page, len);
        assert_int_equal(tree_html_links(h, len, scratch, sizeof scratch, collect, &l), 0);
        guard_close(&g);
        assert_true(l.n <= 3);
    }
}

int main(void)
{
    static struct unit_list l;

    UNIT_ADD_ROWS(&l, link_cases, test_link);
    unit_add(&l, "link: long names", test_link_long_names, NULL);
    UNIT_ADD_ROWS(&l, safe_cases, test_safe);
    UNIT_ADD_ROWS(&l, html_cases, test_html);
    unit_add(&l, "html: every truncation", test_html_truncations, NULL);
    return unit_run("tree", &l);
}
