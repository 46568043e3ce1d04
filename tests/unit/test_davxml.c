/* Unit tests for proto/davxml: PROPFIND, PROPPATCH and lockinfo bodies
 * (names by namespace, values kept as XML that stands on its own), the
 * hostile bodies refused (DOCTYPE, entities, billion laughs, depth,
 * counts), and the writers (escape, href, property tags). */
#include "unit.h"

#include <errno.h>

#include "proto/davxml.h"

#define D "<?xml version=\"1.0\" encoding=\"utf-8\"?>"

struct parse_case {
    const char *name;
    enum davxml_kind kind;
    const char *body;
    int want;              /* davxml_parse's return */
    int find;              /* PROPFIND: enum davxml_find, -1 not checked */
    int nprops;            /* -1 not checked */
    const char *prop0;     /* "{ns}name" of props[0], NULL not checked */
    const char *value0;    /* props[0].value, NULL not checked */
    const char *prop_last; /* "{ns}name" of the last prop (remove marked "-"), NULL not checked */
    int scope;             /* LOCK: enum davxml_scope, -1 not checked */
    const char *owner;     /* LOCK: owner text, NULL not checked */
};

static const struct parse_case parse_cases[] = {
    {"propfind: empty body is allprop", DAVXML_PROPFIND, "", 0, DAVXML_ALLPROP, 0, NULL, NULL, NULL,
     -1, NULL},
    {"propfind: white space only is allprop", DAVXML_PROPFIND, " \r\n\t", 0, DAVXML_ALLPROP, 0,
     NULL, NULL, NULL, -1, NULL},
    {"propfind: allprop", DAVXML_PROPFIND,
     D "<D:propfind xmlns:D=\"DAV:\"><D:allprop/></D:propfind>", 0, DAVXML_ALLPROP, 0, NULL, NULL,
     NULL, -1, NULL},
    {"propfind: propname, default namespace", DAVXML_PROPFIND,
     "<propfind xmlns=\"DAV:\"><propname/></propfind>", 0, DAVXML_PROPNAME, 0, NULL, NULL, NULL, -1,
     NULL},
    {"propfind: prop list with two namespaces", DAVXML_PROPFIND,
     "<a:propfind xmlns:a=\"DAV:\"><a:prop><a:getetag/><z:x xmlns:z=\"http://e/ns\"/>"
     "<nons xmlns=\"\"/></a:prop></a:propfind>",
     0, DAVXML_PROP, 3, "{DAV:}getetag", NULL, "{}nons", -1, NULL},
    {"propfind: prefix alone does not make DAV:", DAVXML_PROPFIND,
     "<D:propfind xmlns:D=\"urn:other\"><D:allprop/></D:propfind>", -EBADMSG, -1, -1, NULL, NULL,
     NULL, -1, NULL},
    {"propfind: undeclared prefix is not well-formed", DAVXML_PROPFIND,
     "<D:propfind><D:allprop/></D:propfind>", -EBADMSG, -1, -1, NULL, NULL, NULL, -1, NULL},
    {"propfind: allprop and prop together", DAVXML_PROPFIND,
     "<propfind xmlns=\"DAV:\"><allprop/><prop><getetag/></prop></propfind>", -EBADMSG, -1, -1,
     NULL, NULL, NULL, -1, NULL},
    {"propfind: allprop with include", DAVXML_PROPFIND,
     "<propfind xmlns=\"DAV:\"><allprop/><include><supported-live-property-set/></include>"
     "</propfind>",
     0, DAVXML_ALLPROP, 1, "{DAV:}supported-live-property-set", NULL, NULL, -1, NULL},
    {"propfind: unknown children are ignored", DAVXML_PROPFIND,
     "<propfind xmlns=\"DAV:\"><x:y xmlns:x=\"u\"><deep/></x:y><prop><getetag/></prop></propfind>",
     0, DAVXML_PROP, 1, "{DAV:}getetag", NULL, NULL, -1, NULL},
    {"propfind: not well-formed", DAVXML_PROPFIND, "<propfind xmlns=\"DAV:\"><prop>", -EBADMSG, -1,
     -1, NULL, NULL, NULL, -1, NULL},
    {"propfind: wrong root", DAVXML_PROPFIND, "<propertyupdate xmlns=\"DAV:\"/>", -EBADMSG, -1, -1,
     NULL, NULL, NULL, -1, NULL},
    {"propfind: garbage", DAVXML_PROPFIND, "hello", -EBADMSG, -1, -1, NULL, NULL, NULL, -1, NULL},
    {"proppatch: empty body refused", DAVXML_PROPPATCH, "", -EBADMSG, -1, -1, NULL, NULL, NULL, -1,
     NULL},
    {"proppatch: set and remove in order", DAVXML_PROPPATCH,
     "<D:propertyupdate xmlns:D=\"DAV:\" xmlns:Z=\"http://ns.example.com/z/\">"
     "<D:set><D:prop><Z:Author>Jim Whitehead</Z:Author></D:prop></D:set>"
     "<D:remove><D:prop><Z:Copyright-Owner/></D:prop></D:remove></D:propertyupdate>",
     0, -1, 2, "{http://ns.example.com/z/}Author", "Jim Whitehead",
     "-{http://ns.example.com/z/}Copyright-Owner", -1, NULL},
    {"proppatch: value with elements keeps namespaces", DAVXML_PROPPATCH,
     "<propertyupdate xmlns=\"DAV:\"><set><prop><t:v xmlns:t=\"urn:t\">a<t:b x=\"1\">c</t:b>"
     "<foo xmlns=\"bar\"/></t:v></prop></set></propertyupdate>",
     0, -1, 1, "{urn:t}v", "a<b xmlns=\"urn:t\" x=\"1\">c</b><foo xmlns=\"bar\"></foo>", NULL, -1,
     NULL},
    {"proppatch: text is escaped again", DAVXML_PROPPATCH,
     "<propertyupdate xmlns=\"DAV:\"><set><prop><v xmlns=\"urn:x\">a&amp;b&lt;c&#62;\"</v></prop>"
     "</set></propertyupdate>",
     0, -1, 1, "{urn:x}v", "a&amp;b&lt;c&gt;&quot;", NULL, -1, NULL},
    {"proppatch: xml:lang on a child and a namespaced attribute", DAVXML_PROPPATCH,
     "<propertyupdate xmlns=\"DAV:\"><set><prop><v xmlns=\"urn:x\"><w xml:lang=\"en\" "
     "xmlns:q=\"urn:q\" q:r=\"s\"/></v></prop></set></propertyupdate>",
     0, -1, 1, "{urn:x}v", "<w xmlns=\"urn:x\" xml:lang=\"en\" xmlns:a0=\"urn:q\" a0:r=\"s\"></w>",
     NULL, -1, NULL},
    {"proppatch: no property", DAVXML_PROPPATCH,
     "<propertyupdate xmlns=\"DAV:\"><set><prop/></set></propertyupdate>", -EBADMSG, -1, -1, NULL,
     NULL, NULL, -1, NULL},
    {"proppatch: CDATA is kept as text", DAVXML_PROPPATCH,
     "<propertyupdate xmlns=\"DAV:\"><set><prop><v xmlns=\"u\"><![CDATA[<x>]]></v></prop></set>"
     "</propertyupdate>",
     0, -1, 1, "{u}v", "&lt;x&gt;", NULL, -1, NULL},
    {"lockinfo: exclusive write with owner href", DAVXML_LOCKINFO,
     "<D:lockinfo xmlns:D=\"DAV:\"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/>"
     "</D:locktype><D:owner><D:href>http://example.org/~ejw/contact.html</D:href></D:owner>"
     "</D:lockinfo>",
     0, -1, -1, NULL, NULL, NULL, DAVXML_EXCLUSIVE,
     "<href xmlns=\"DAV:\">http://example.org/~ejw/contact.html</href>"},
    {"lockinfo: shared, owner text", DAVXML_LOCKINFO,
     "<lockinfo xmlns=\"DAV:\"><lockscope><shared/></lockscope><locktype><write/></locktype>"
     "<owner>me &amp; you</owner></lockinfo>",
     0, -1, -1, NULL, NULL, NULL, DAVXML_SHARED, "me &amp; you"},
    {"lockinfo: empty body is a refresh", DAVXML_LOCKINFO, "", 0, -1, -1, NULL, NULL, NULL,
     DAVXML_SCOPE_NONE, NULL},
    {"lockinfo: no locktype", DAVXML_LOCKINFO,
     "<lockinfo xmlns=\"DAV:\"><lockscope><shared/></lockscope></lockinfo>", -EBADMSG, -1, -1, NULL,
     NULL, NULL, -1, NULL},
    {"hostile: DOCTYPE refused", DAVXML_PROPFIND,
     "<!DOCTYPE propfind><propfind xmlns=\"DAV:\"><allprop/></propfind>", -EPERM, -1, -1, NULL,
     NULL, NULL, -1, NULL},
    {"hostile: billion laughs refused at the DOCTYPE", DAVXML_PROPFIND,
     "<!DOCTYPE l [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">"
     "<!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\">]><propfind xmlns=\"DAV:\"><prop>"
     "<x xmlns=\"u\">&c;</x></prop></propfind>",
     -EPERM, -1, -1, NULL, NULL, NULL, -1, NULL},
    {"hostile: external entity refused", DAVXML_PROPPATCH,
     "<!DOCTYPE p [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><propertyupdate xmlns=\"DAV:\">"
     "<set><prop><v xmlns=\"u\">&x;</v></prop></set></propertyupdate>",
     -EPERM, -1, -1, NULL, NULL, NULL, -1, NULL},
    {"hostile: undeclared entity is not well-formed", DAVXML_PROPPATCH,
     "<propertyupdate xmlns=\"DAV:\"><set><prop><v xmlns=\"u\">&x;</v></prop></set>"
     "</propertyupdate>",
     -EBADMSG, -1, -1, NULL, NULL, NULL, -1, NULL},
};

/* "{ns}name" of pr, with "-" before it when it is a remove. */
static void clark(const struct davxml_prop *pr, bool mark, char *out, size_t n)
{
    snprintf(out, n, "%s{%s}%s", mark && pr->remove ? "-" : "", pr->ns, pr->name);
}

static void test_parse(void **state)
{
    const struct parse_case *t = *state;
    struct davxml_req *r = malloc(sizeof *r);
    struct guard g;
    char name[512];

    assert_non_null(r);
    guard_open(&g, strlen(t->body) + 1);
    const char *in = guard_put(&g, t->body, strlen(t->body));
    assert_int_equal(davxml_parse(t->kind, in, strlen(t->body), r), t->want);
    if (t->want == 0) {
        if (t->find >= 0)
            assert_int_equal(r->find, t->find);
        if (t->nprops >= 0)
            assert_int_equal(r->nprops, t->nprops);
        if (t->prop0 != NULL) {
            clark(&r->props[0], false, name, sizeof name);
            assert_string_equal(name, t->prop0);
        }
        if (t->value0 != NULL) {
            assert_string_equal(r->props[0].value, t->value0);
            assert_int_equal(r->props[0].value_len, strlen(t->value0));
        }
        if (t->prop_last != NULL) {
            clark(&r->props[r->nprops - 1], true, name, sizeof name);
            assert_string_equal(name, t->prop_last);
        }
        if (t->scope >= 0)
            assert_int_equal(r->scope, t->scope);
        if (t->owner != NULL) {
            assert_non_null(r->owner);
            assert_string_equal(r->owner, t->owner);
        }
    }
    guard_close(&g);
    free(r);
}

/* A body of n nested elements inside a propfind's prop value position. */
static char *nested(size_t n)
{
    size_t cap = 64 + n * 8;
    char *s = malloc(cap);
    size_t o = 0;

    o += (size_t)sprintf(s + o, "<propfind xmlns=\"DAV:\">");
    for (size_t i = 0; i < n; i++)
        o += (size_t)sprintf(s + o, "<a>");
    for (size_t i = 0; i < n; i++)
        o += (size_t)sprintf(s + o, "</a>");
    sprintf(s + o, "</propfind>");
    return s;
}

static void test_depth(void **state)
{
    struct davxml_req *r = malloc(sizeof *r);
    char *deep = nested(10000), *ok = nested(DAVXML_DEPTH_MAX - 2);

    assert_int_equal(davxml_parse(DAVXML_PROPFIND, deep, strlen(deep), r), -E2BIG);
    assert_int_equal(davxml_parse(DAVXML_PROPFIND, ok, strlen(ok), r), 0);
    free(deep);
    free(ok);
    free(r);
}

static void test_counts(void **state)
{
    struct davxml_req *r = malloc(sizeof *r);
    size_t n = DAVXML_PROPS_MAX + 1, cap = 64 + n * 16;
    char *s = malloc(cap);
    size_t o = (size_t)sprintf(s, "<propfind xmlns=\"DAV:\"><prop>");

    for (size_t i = 0; i < n; i++)
        o += (size_t)sprintf(s + o, "<p%zu/>", i);
    sprintf(s + o, "</prop></propfind>");
    assert_int_equal(davxml_parse(DAVXML_PROPFIND, s, strlen(s), r), -E2BIG);
    /* Many elements that are not properties: the element count. */
    free(s);
    n = DAVXML_ELEMS_MAX + 1;
    s = malloc(64 + n * 4);
    o = (size_t)sprintf(s, "<propfind xmlns=\"DAV:\">");
    for (size_t i = 0; i < n; i++)
        o += (size_t)sprintf(s + o, "<a/>");
    sprintf(s + o, "</propfind>");
    assert_int_equal(davxml_parse(DAVXML_PROPFIND, s, strlen(s), r), -E2BIG);
    assert_int_equal(davxml_parse(DAVXML_PROPFIND, s, DAVXML_BODY_MAX + 1, r), -E2BIG);
    free(s);
    free(r);
}

struct escape_case {
    const char *name;
    const char *in;
    size_t len;
    const char *want;
};

static const struct escape_case escape_cases[] = {
    {"escape: plain", "abc", 3, "abc"},
    {"escape: the five", "<&>\"'", 5, "&lt;&amp;&gt;&quot;&apos;"},
    {"escape: CR kept as a reference", "a\rb", 3, "a&#13;b"},
    {"escape: control bytes dropped, tab and LF kept", "a\x01\tb\nc\x1f", 7, "a\tb\nc"},
    {"escape: NUL dropped", "a\0b", 3, "ab"},
    {"escape: UTF-8 passes", "\xc3\xa9", 2, "\xc3\xa9"},
};

static void test_escape(void **state)
{
    const struct escape_case *t = *state;
    struct buf b;

    buf_init(&b, 1024);
    assert_int_equal(davxml_escape(&b, t->in, t->len), 0);
    assert_int_equal(buf_len(&b), strlen(t->want));
    assert_memory_equal(buf_rptr(&b), t->want, strlen(t->want));
    buf_free(&b);
}

struct href_case {
    const char *name;
    const char *rel;
    bool dir;
    const char *want;
};

static const struct href_case href_cases[] = {
    {"href: root", ".", true, "/"},
    {"href: file", "a/b.txt", false, "/a/b.txt"},
    {"href: folder gets a slash", "a/b", true, "/a/b/"},
    {"href: space, percent, hash, question", "a b%#?", false, "/a%20b%25%23%3F"},
    {"href: XML specials are encoded", "<&>\"", false, "/%3C%26%3E%22"},
    {"href: UTF-8 bytes", "\xc3\xa9", false, "/%C3%A9"},
};

static void test_href(void **state)
{
    const struct href_case *t = *state;
    struct buf b;

    buf_init(&b, 1024);
    assert_int_equal(davxml_href(&b, t->rel, t->dir), 0);
    assert_int_equal(buf_len(&b), strlen(t->want));
    assert_memory_equal(buf_rptr(&b), t->want, strlen(t->want));
    buf_free(&b);
}

static void test_prop_tags(void **state)
{
    struct buf b;

    buf_init(&b, 1024);
    assert_int_equal(davxml_prop_open(&b, "DAV:", "getetag", false), 0);
    assert_int_equal(davxml_prop_close(&b, "DAV:", "getetag"), 0);
    assert_int_equal(davxml_prop_open(&b, "urn:\"q\"", "v", true), 0);
    assert_int_equal(davxml_prop_open(&b, "", "n", false), 0);
    assert_int_equal(davxml_prop_close(&b, "", "n"), 0);
    assert_int_equal(davxml_prop_close(&b, "urn:x", "v"), 0);
    assert_int_equal(buf_append(&b, "", 1), 0);
    assert_string_equal(buf_rptr(&b), "<D:getetag></D:getetag><P:v xmlns:P=\"urn:&quot;q&quot;\"/>"
                                      "<n xmlns=\"\"></n></P:v>");
    buf_free(&b);
}

int main(void)
{
    static struct unit_list l;

    UNIT_ADD_ROWS(&l, parse_cases, test_parse);
    UNIT_ADD_ROWS(&l, escape_cases, test_escape);
    UNIT_ADD_ROWS(&l, href_cases, test_href);
    unit_add(&l, "hostile: nesting 10000 deep refused, 62 taken", test_depth, NULL);
    unit_add(&l, "hostile: property, element and body limits", test_counts, NULL);
    unit_add(&l, "writer: property tags", test_prop_tags, NULL);
    return unit_run("davxml", &l);
}
