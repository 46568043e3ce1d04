/* Unit tests for proto/davif: the If header's syntax (one row per rule,
 * every truncation of every row against a guard page), its bounds, and the
 * evaluation against a small world of resources, lock tokens and ETags. */
#include "unit.h"

#include <errno.h>
#include <stdio.h>

#include "proto/davif.h"

struct parse_row {
    const char *name;
    const char *in;
    int rc;
    size_t nlists, nconds;
};

static const struct parse_row parse_rows[] = {
    {"untagged token", "(<urn:uuid:T>)", 0, 1, 1},
    {"untagged etag", "([\"E\"])", 0, 1, 1},
    {"weak etag", "([W/\"E\"])", 0, 1, 1},
    {"token and etag", "(<urn:uuid:T> [\"E\"])", 0, 1, 2},
    {"two lists", "(<urn:uuid:T>) (Not <DAV:no-lock>)", 0, 2, 2},
    {"not lower case", "(not <DAV:no-lock>)", 0, 1, 1},
    {"no space", "(<a:b>[\"x\"])(<c:d>)", 0, 2, 3},
    {"tagged", "<http://h/a> (<urn:uuid:T>)", 0, 1, 1},
    {"tagged two", "<http://h/a> (<a:b>) <http://h/b> (<c:d>) (Not <e:f>)", 0, 3, 3},
    {"tabs", "\t( <a:b>\t)\t", 0, 1, 1},
    {"empty", "", -EINVAL, 0, 0},
    {"blank", "   ", -EINVAL, 0, 0},
    {"empty list", "()", -EINVAL, 0, 0},
    {"open list", "(<a:b>", -EINVAL, 0, 0},
    {"open token", "(<a:b)", -EINVAL, 0, 0},
    {"open etag", "([\"E\")", -EINVAL, 0, 0},
    {"empty token", "(<>)", -EINVAL, 0, 0},
    {"space in token", "(<a b>)", -EINVAL, 0, 0},
    {"unquoted etag", "([E])", -EINVAL, 0, 0},
    {"quote in etag", "([\"a\"b\"])", -EINVAL, 0, 0},
    {"bare word", "(foo)", -EINVAL, 0, 0},
    {"not alone", "(Not)", -EINVAL, 0, 0},
    {"junk after", "(<a:b>) x", -EINVAL, 0, 0},
    {"mixed untagged then tagged", "(<a:b>) <http://h/> (<c:d>)", -EINVAL, 0, 0},
    {"mixed tagged then untagged ok", "<http://h/> (<a:b>) (<c:d>)", 0, 2, 2},
    {"tag without list", "<http://h/>", -EINVAL, 0, 0},
    {"two tags", "<http://h/> <http://h/b> (<a:b>)", -EINVAL, 0, 0},
    {"nested list", "((<a:b>))", -EINVAL, 0, 0},
    {"control byte", "(<a:\x01>)", -EINVAL, 0, 0},
};

static void test_parse(void **state)
{
    const struct parse_row *r = *state;
    struct davif h;
    struct guard g;
    size_t len = strlen(r->in);

    guard_open(&g, len + 1);
    const char *in = guard_put(&g, r->in, len);
    assert_int_equal(davif_parse(in, len, &h), r->rc);
    if (r->rc == 0) {
        assert_int_equal(h.nlists, r->nlists);
        assert_int_equal(h.nconds, r->nconds);
        for (size_t k = 0; k < h.nconds; k++) /* results point into the input */
            assert_true(h.conds[k].text.p >= in &&
                        h.conds[k].text.p + h.conds[k].text.len <= in + len);
    }
    /* Every cut: no read past its end, and a valid answer. */
    for (size_t cut = 0; cut < len; cut++) {
        in = guard_put(&g, r->in, cut);
        int rc = davif_parse(in, cut, &h);
        assert_true(rc == 0 || rc == -EINVAL);
    }
    guard_close(&g);
}

static void test_bounds(void **state)
{
    (void)state;
    char in[4096];
    struct davif h;
    size_t n = 0;

    for (int i = 0; i < DAVIF_MAX_LISTS; i++)
        n += (size_t)snprintf(in + n, sizeof in - n, "(<a:%d>)", i);
    assert_int_equal(davif_parse(in, n, &h), 0);
    assert_int_equal(h.nlists, DAVIF_MAX_LISTS);
    n += (size_t)snprintf(in + n, sizeof in - n, "(<a:x>)");
    assert_int_equal(davif_parse(in, n, &h), -E2BIG);

    n = (size_t)snprintf(in, sizeof in, "(");
    for (int i = 0; i < DAVIF_MAX_CONDS; i++)
        n += (size_t)snprintf(in + n, sizeof in - n, "<a:%d>", i);
    n += (size_t)snprintf(in + n, sizeof in - n, ")");
    assert_int_equal(davif_parse(in, n, &h), 0);
    in[n - 1] = '\0';
    n = strlen(in);
    n += (size_t)snprintf(in + n, sizeof in - n, "<a:more>)");
    assert_int_equal(davif_parse(in, n, &h), -E2BIG);
}

/* The world: the request's resource holds lock urn:uuid:T and has ETag
 * "E"; http://h/other holds urn:uuid:O and has no ETag (it is a folder);
 * nothing else exists. */
static bool is(struct http_str s, const char *lit)
{
    return s.p != NULL && s.len == strlen(lit) && memcmp(s.p, lit, s.len) == 0;
}

static bool w_token(void *arg, struct http_str tag, struct http_str token)
{
    (void)arg;
    if (tag.p == NULL)
        return is(token, "urn:uuid:T");
    return is(tag, "http://h/other") && is(token, "urn:uuid:O");
}

static bool w_etag(void *arg, struct http_str tag, char *out, size_t outsz)
{
    (void)arg;
    if (tag.p != NULL)
        return false;
    snprintf(out, outsz, "\"E\"");
    return true;
}

static const struct davif_ops world = {.has_token = w_token, .etag = w_etag};

struct eval_row {
    const char *name;
    const char *in;
    bool holds;
};

static const struct eval_row eval_rows[] = {
    {"eval token", "(<urn:uuid:T>)", true},
    {"eval wrong token", "(<urn:uuid:Tx>)", false},
    {"eval no-lock", "(<DAV:no-lock>)", false},
    {"eval not no-lock", "(Not <DAV:no-lock>)", true},
    {"eval token and etag", "(<urn:uuid:T> [\"E\"])", true},
    {"eval token and wrong etag", "(<urn:uuid:T> [\"F\"])", false},
    {"eval weak etag never matches", "([W/\"E\"])", false},
    {"eval no-lock and etag", "(<DAV:no-lock> [\"E\"])", false},
    {"eval corrupt token or not no-lock", "(<urn:uuid:Tx>) (Not <DAV:no-lock>)", true},
    {"eval complex", "(<urn:uuid:T> [\"E\"]) (Not <DAV:no-lock> [\"E\"])", true},
    {"eval complex bad etag", "(<urn:uuid:T> [\"X\"]) (Not <DAV:no-lock> [\"X\"])", false},
    {"eval not etag", "(Not [\"X\"])", true},
    {"eval tagged other", "<http://h/other> (<urn:uuid:O>)", true},
    {"eval tagged other wrong token", "<http://h/other> (<urn:uuid:T>)", false},
    {"eval tagged etag of folder", "<http://h/other> ([\"E\"])", false},
    {"eval tagged missing", "<http://h/none> (Not <urn:uuid:T>)", true},
};

static void test_eval(void **state)
{
    const struct eval_row *r = *state;
    struct davif h;

    assert_int_equal(davif_parse(r->in, strlen(r->in), &h), 0);
    assert_int_equal(davif_eval(&h, &world, NULL), r->holds);
}

static void test_submits(void **state)
{
    (void)state;
    struct davif h;
    const char *in = "(<urn:uuid:A> [\"E\"]) (Not <urn:uuid:B>) <x:y> (<urn:uuid:C>)";

    /* Untagged and tagged lists do not mix: two headers. */
    assert_int_equal(davif_parse(in, strlen(in), &h), -EINVAL);
    in = "(<urn:uuid:A> [\"E\"]) (Not <urn:uuid:B>)";
    assert_int_equal(davif_parse(in, strlen(in), &h), 0);
    assert_true(davif_submits(&h, "urn:uuid:A", 10));
    assert_false(davif_submits(&h, "urn:uuid:B", 10)); /* Not: not submitted */
    assert_false(davif_submits(&h, "urn:uuid:", 9));
    assert_false(davif_submits(&h, "\"E\"", 3));
}

int main(void)
{
    static struct unit_list l;

    UNIT_ADD_ROWS(&l, parse_rows, test_parse);
    UNIT_ADD_ROWS(&l, eval_rows, test_eval);
    unit_add(&l, "bounds", test_bounds, NULL);
    unit_add(&l, "submits", test_submits, NULL);
    return unit_run("davif", &l);
}
