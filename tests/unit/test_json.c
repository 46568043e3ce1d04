/* Unit tests for proto/json: json_put_string (escapes, control bytes,
 * invalid UTF-8), json_accept (the Accept decision) and json_listing_parse
 * (entries, skipped members, strictness, every truncation). Inputs sit
 * against a guard page, so reading past their end crashes. */
#include "unit.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>

#include "proto/json.h"

struct str_case {
    const char *name;
    const char *in;
    size_t len;
    const char *want;
};

static const struct str_case str_cases[] = {
    {"string: plain", "a.txt", 5, "\"a.txt\""},
    {"string: quote and backslash", "a\"b\\c", 5, "\"a\\\"b\\\\c\""},
    {"string: control bytes", "\x01\n\x1f\x7f", 4, "\"\\u0001\\u000a\\u001f\\u007f\""},
    {"string: NUL", "a\0b", 3, "\"a\\u0000b\""},
    {"string: UTF-8 kept", "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9,
     "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\""},
    {"string: a lone continuation byte",
     "a\x80"
     "b",
     3, "\"a\\ufffdb\""},
    {"string: latin-1", "caf\xe9", 4, "\"caf\\ufffd\""},
    {"string: overlong slash", "\xc0\xaf", 2, "\"\\ufffd\\ufffd\""},
    {"string: surrogate", "\xed\xa0\x80", 3, "\"\\ufffd\\ufffd\\ufffd\""},
    {"string: cut sequence at the end", "a\xe2\x82", 3, "\"a\\ufffd\\ufffd\""},
    {"string: slash as is", "a/b", 3, "\"a/b\""},
};

static void test_string(void **state)
{
    const struct str_case *c = *state;
    struct buf b;
    struct guard g;

    guard_open(&g, c->len + 1);
    const char *in = guard_put(&g, c->in, c->len);
    buf_init(&b, 4096);
    assert_int_equal(json_put_string(&b, in, c->len), 0);
    assert_int_equal(buf_len(&b), strlen(c->want));
    assert_memory_equal(buf_rptr(&b), c->want, strlen(c->want));
    buf_free(&b);
    guard_close(&g);
}

static void test_string_cap(void **state)
{
    struct buf b;

    (void)state;
    buf_init(&b, 4);
    assert_int_equal(json_put_string(&b, "abcdef", 6), -ENOBUFS);
    buf_free(&b);
}

struct accept_case {
    const char *name;
    const char *v;
    bool want;
};

static const struct accept_case accept_cases[] = {
    {"accept: json", "application/json", true},
    {"accept: json upper case", "Application/JSON", true},
    {"accept: json q=0", "application/json;q=0", false},
    {"accept: json q=0.000", "application/json; q=0.000", false},
    {"accept: json with a charset", "application/json; charset=utf-8", true},
    {"accept: html first, both q=1", "text/html, application/json", true},
    {"accept: html preferred", "text/html, application/json;q=0.9", false},
    {"accept: json preferred", "text/html;q=0.5, application/json", true},
    {"accept: browser", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", false},
    {"accept: any", "*/*", false},
    {"accept: application/*", "application/*", false},
    {"accept: json-seq is another type", "application/json-seq", false},
    {"accept: ld+json is another type", "application/ld+json", false},
    {"accept: empty", "", false},
    {"accept: json among others", "text/plain;q=0.2, application/json;q=0.3", true},
    {"accept: bad q", "application/json;q=x", false},
};

static void test_accept(void **state)
{
    const struct accept_case *c = *state;
    struct guard g;
    size_t len = strlen(c->v);

    guard_open(&g, len + 1);
    const char *v = guard_put(&g, c->v, len);
    bool got = json_accept(v, len);
    guard_close(&g);
    if (got != c->want)
        fail_msg("%s: got %d", c->name, got);
}

struct seen {
    char text[512];
    int n;
};

static int note(void *arg, const struct json_entry *e)
{
    struct seen *s = arg;
    size_t k = strlen(s->text);

    snprintf(s->text + k, sizeof s->text - k, "%s%s %s %llu %lld", s->n > 0 ? "|" : "", e->href,
             e->dir ? "dir" : "file", (unsigned long long)e->size, (long long)e->mtime);
    s->n++;
    return 0;
}

struct parse_case {
    const char *name;
    const char *in;
    int want;
    const char *seen;
};

static const struct parse_case parse_cases[] = {
    {"parse: empty listing", "{\"entries\":[]}", 0, ""},
    {"parse: two entries",
     "{\"path\":\"/d/\",\"entries\":[{\"name\":\"a\",\"href\":\"a\",\"type\":\"file\","
     "\"size\":3,\"mtime\":1700000000},\n {\"href\":\"s/\",\"type\":\"dir\"}]}",
     0, "a file 3 1700000000|s/ dir 0 0"},
    {"parse: escapes in an href",
     "{\"entries\":[{\"href\":\"a\\u0041\\/\\u00e9\",\"type\":\"file\"}]}", 0,
     "aA/\xc3\xa9 file 0 0"},
    {"parse: surrogate pair", "{\"entries\":[{\"href\":\"\\ud83d\\ude00\",\"type\":\"file\"}]}", 0,
     "\xf0\x9f\x98\x80 file 0 0"},
    {"parse: other members skipped",
     "{\"x\":[1,2.5e3,{\"y\":null}],\"entries\":[{\"href\":\"a\",\"type\":\"file\",\"z\":{}"
     ",\"t\":true}],\"w\":false}",
     0, "a file 0 0"},
    {"parse: whitespace", " { \"entries\" : [ { \"href\" : \"a\" , \"type\" : \"dir\" } ] } ", 0,
     "a dir 0 0"},
    {"parse: no entries member", "{\"path\":\"/\"}", -EBADMSG, ""},
    {"parse: not an object", "[]", -EBADMSG, ""},
    {"parse: html", "<html>", -EBADMSG, ""},
    {"parse: trailing bytes", "{\"entries\":[]}x", -EBADMSG, ""},
    {"parse: trailing comma", "{\"entries\":[{\"href\":\"a\",\"type\":\"file\"},]}", -EBADMSG,
     "a file 0 0"},
    {"parse: missing type", "{\"entries\":[{\"href\":\"a\"}]}", -EBADMSG, ""},
    {"parse: unknown type", "{\"entries\":[{\"href\":\"a\",\"type\":\"link\"}]}", -EBADMSG, ""},
    {"parse: negative size", "{\"entries\":[{\"href\":\"a\",\"type\":\"file\",\"size\":-1}]}",
     -EBADMSG, ""},
    {"parse: size overflow",
     "{\"entries\":[{\"href\":\"a\",\"type\":\"file\",\"size\":99999999999999999999}]}", -EBADMSG,
     ""},
    {"parse: leading zero", "{\"entries\":[{\"href\":\"a\",\"type\":\"file\",\"size\":01}]}",
     -EBADMSG, ""},
    {"parse: raw control byte in a string", "{\"entries\":[{\"href\":\"a\nb\",\"type\":\"file\"}]}",
     -EBADMSG, ""},
    {"parse: invalid UTF-8 in a string", "{\"entries\":[{\"href\":\"\xff\",\"type\":\"file\"}]}",
     -EBADMSG, ""},
    {"parse: lone low surrogate", "{\"entries\":[{\"href\":\"\\udc00\",\"type\":\"file\"}]}",
     -EBADMSG, ""},
    {"parse: lone high surrogate", "{\"entries\":[{\"href\":\"\\ud800x\",\"type\":\"file\"}]}",
     -EBADMSG, ""},
    {"parse: bad escape", "{\"entries\":[{\"href\":\"\\x\",\"type\":\"file\"}]}", -EBADMSG, ""},
    {"parse: too deep", "{\"x\":[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]],\"entries\":[]}", -EBADMSG,
     ""},
    {"parse: a long key does not clobber the href",
     "{\"entries\":[{\"href\":\"h\","
     "\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
     "xxxxxxxxxxxxxxxxxxxxxx\":1,\"type\":\"file\"}]}",
     -ENAMETOOLONG, ""},
};

static void test_parse(void **state)
{
    const struct parse_case *c = *state;
    struct seen s = {.n = 0};
    char scratch[128];
    struct guard g;
    size_t len = strlen(c->in);

    guard_open(&g, len + 1);
    const char *in = guard_put(&g, c->in, len);
    int rc = json_listing_parse(in, len, scratch, sizeof scratch, note, &s);
    guard_close(&g);
    if (rc != c->want)
        fail_msg("%s: rc %d, want %d", c->name, rc, c->want);
    assert_string_equal(s.text, c->seen);
}

/* Every proper prefix of a valid listing is refused, never over-read. */
static void test_parse_truncations(void **state)
{
    static const char full[] =
        "{\"path\":\"/d/\",\"entries\":[{\"name\":\"\\u00e9\",\"href\":\"a\","
        "\"type\":\"file\",\"size\":3,\"mtime\":-5},{\"href\":\"s/\","
        "\"type\":\"dir\"}]}";
    char scratch[128];

    (void)state;
    for (size_t len = 0; len < sizeof full - 1; len++) {
        struct seen s = {.n = 0};
        struct guard g;
        guard_open(&g, len + 1);
        const char *in = guard_put(&g, full, len);
        assert_int_not_equal(json_listing_parse(in, len, scratch, sizeof scratch, note, &s), 0);
        guard_close(&g);
    }
}

/* What json_put_string writes, json_listing_parse reads back (for valid UTF-8). */
static int keep_href(void *arg, const struct json_entry *e)
{
    snprintf(arg, 64, "%s", e->href);
    return 0;
}

static void test_round_trip(void **state)
{
    const char name[] = "a\"\\\x01\n\xc3\xa9/";
    struct buf b;
    char scratch[128], got[64] = "";

    (void)state;
    buf_init(&b, 4096);
    assert_int_equal(buf_puts(&b, "{\"entries\":[{\"href\":"), 0);
    assert_int_equal(json_put_string(&b, name, sizeof name - 1), 0);
    assert_int_equal(buf_puts(&b, ",\"type\":\"file\"}]}"), 0);
    assert_int_equal(
        json_listing_parse(buf_rptr(&b), buf_len(&b), scratch, sizeof scratch, keep_href, got), 0);
    assert_string_equal(got, name);
    buf_free(&b);
}

int main(void)
{
    static struct unit_list l;

    UNIT_ADD_ROWS(&l, str_cases, test_string);
    unit_add(&l, "string: past the cap", test_string_cap, NULL);
    UNIT_ADD_ROWS(&l, accept_cases, test_accept);
    UNIT_ADD_ROWS(&l, parse_cases, test_parse);
    unit_add(&l, "parse: every truncation", test_parse_truncations, NULL);
    unit_add(&l, "parse: round trip of json_put_string", test_round_trip, NULL);
    return unit_run("json", &l);
}
