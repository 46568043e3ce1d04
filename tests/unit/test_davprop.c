/* Unit tests for proto/davprop: the live-property table, dead-property
 * attribute keys (exact namespace and name, the 255-byte limit) and the
 * sidecar records. */
#include "unit.h"

#include <errno.h>

#include "proto/davprop.h"

struct live_case {
    const char *name;
    const char *ns, *local;
    int want;     /* davprop_live_find */
    bool on_dir;  /* applies to a collection */
    bool allprop; /* listed by allprop */
};

static const struct live_case live_cases[] = {
    {"live: getetag", "DAV:", "getetag", DAVPROP_GETETAG, false, true},
    {"live: getcontentlength not on a folder", "DAV:", "getcontentlength", DAVPROP_GETCONTENTLENGTH,
     false, true},
    {"live: resourcetype", "DAV:", "resourcetype", DAVPROP_RESOURCETYPE, true, true},
    {"live: lockdiscovery", "DAV:", "lockdiscovery", DAVPROP_LOCKDISCOVERY, true, true},
    {"live: quota only by name", "DAV:", "quota-used-bytes", DAVPROP_QUOTA_USED, true, false},
    {"live: another namespace is dead", "urn:x", "getetag", -1, false, false},
    {"live: case matters", "DAV:", "GetETag", -1, false, false},
    {"live: no namespace is dead", "", "getetag", -1, false, false},
};

static void test_live(void **state)
{
    const struct live_case *t = *state;
    int p = davprop_live_find(t->ns, t->local);

    assert_int_equal(p, t->want);
    if (p >= 0) {
        assert_string_equal(davprop_live_name((enum davprop_live)p), t->local);
        assert_int_equal(davprop_live_applies((enum davprop_live)p, true), t->on_dir);
        assert_true(davprop_live_applies((enum davprop_live)p, false));
        assert_int_equal(davprop_live_in_allprop((enum davprop_live)p), t->allprop);
    }
}

struct key_case {
    const char *name;
    const char *ns, *local;
    long want; /* length or -errno */
    const char *key;
};

static const struct key_case key_cases[] = {
    {"key: namespace and name", "http://ns.example.com/z/", "Author", 41,
     "user.dav:{http://ns.example.com/z/}Author"},
    {"key: no namespace", "", "n", 12, "user.dav:{}n"},
    {"key: braces in the namespace kept", "urn:{a}", "b", 19, "user.dav:{urn:{a}}b"},
    {"key: a name with } refused", "u", "a}b", -EINVAL, NULL},
    {"key: an empty name refused", "u", "", -EINVAL, NULL},
};

static void test_key(void **state)
{
    const struct key_case *t = *state;
    char out[512];
    const char *ns, *name;

    assert_int_equal(davprop_key(t->ns, t->local, out, sizeof out), t->want);
    if (t->key == NULL)
        return;
    assert_string_equal(out, t->key);
    /* and back: the part after the prefix splits into the same two */
    assert_int_equal(davprop_key_split(out + sizeof DAVPROP_XATTR_PREFIX - 1, &ns, &name), 0);
    assert_string_equal(ns, t->ns);
    assert_string_equal(name, t->local);
}

static void test_key_long(void **state)
{
    char ns[300], out[1024];

    memset(ns, 'a', sizeof ns - 1);
    ns[sizeof ns - 1] = '\0';
    assert_int_equal(davprop_key(ns, "x", out, sizeof out), -ENAMETOOLONG);
    ns[255 - 12] = '\0'; /* "user.dav:{" + "}x" around it: exactly 255 */
    assert_int_equal(davprop_key(ns, "x", out, sizeof out), 255);
    assert_int_equal(davprop_key(ns, "x", out, 100), -ENAMETOOLONG);
}

static void test_records(void **state)
{
    static const char data[] = "{urn:a}x\0en\0<v xmlns=\"q\"></v>\0{}y\0\0\0";
    size_t off = 0, len = sizeof data - 1;
    struct davprop_rec r;

    assert_int_equal(davprop_rec_next(data, len, &off, &r), 1);
    assert_string_equal(r.key, "{urn:a}x");
    assert_string_equal(r.lang, "en");
    assert_int_equal(r.value_len, strlen("<v xmlns=\"q\"></v>"));
    assert_int_equal(davprop_rec_next(data, len, &off, &r), 1);
    assert_string_equal(r.key, "{}y");
    assert_int_equal(r.value_len, 0);
    assert_int_equal(davprop_rec_next(data, len, &off, &r), 0);
    /* every cut short is refused, never read past */
    for (size_t cut = 1; cut < len; cut++) {
        struct guard g;
        guard_open(&g, cut);
        const char *p = guard_put(&g, data, cut);
        size_t o = 0;
        int rc;
        while ((rc = davprop_rec_next(p, cut, &o, &r)) == 1)
            ;
        assert_int_equal(rc, cut == 30 ? 0 : -EINVAL); /* 30: the first record's end */
        guard_close(&g);
    }
    off = 0;
    assert_int_equal(davprop_rec_next("nokey\0a\0b\0", 10, &off, &r), -EINVAL);
}

int main(void)
{
    static struct unit_list l;

    UNIT_ADD_ROWS(&l, live_cases, test_live);
    UNIT_ADD_ROWS(&l, key_cases, test_key);
    unit_add(&l, "key: the 255-byte attribute name limit", test_key_long, NULL);
    unit_add(&l, "records: sidecar records and every cut", test_records, NULL);
    return unit_run("davprop", &l);
}
