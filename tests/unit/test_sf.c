/* Unit tests for proto/sf: Items and Dictionary look-ups as the upload and
 * digest headers use them, each input against a guard page, whole and cut
 * at every byte. */
#include "unit.h"

#include <errno.h>
#include <stdbool.h>

#include "proto/sf.h"

struct item_case {
    const char *name;
    const char *in;
    int rc;
    enum sf_kind kind;
    int64_t integer;
    bool boolean;
};

static const struct item_case items[] = {
    {"zero", "0", 0, SF_INTEGER, 0, false},
    {"an offset", "25000000", 0, SF_INTEGER, 25000000, false},
    {"fifteen digits", "999999999999999", 0, SF_INTEGER, 999999999999999LL, false},
    {"sixteen digits", "1000000000000000", -EINVAL, SF_OTHER, 0, false},
    {"negative", "-5", 0, SF_INTEGER, -5, false},
    {"leading spaces", "  42", 0, SF_INTEGER, 42, false},
    {"trailing spaces", "42  ", 0, SF_INTEGER, 42, false},
    {"with a parameter", "42;a=1", 0, SF_INTEGER, 42, false},
    {"true", "?1", 0, SF_BOOLEAN, 0, true},
    {"false", "?0", 0, SF_BOOLEAN, 0, false},
    {"boolean with parameter", "?1;x", 0, SF_BOOLEAN, 0, true},
    {"bad boolean", "?2", -EINVAL, SF_OTHER, 0, false},
    {"bare question mark", "?", -EINVAL, SF_OTHER, 0, false},
    {"a plus sign", "+5", -EINVAL, SF_OTHER, 0, false},
    {"two items", "1, 2", -EINVAL, SF_OTHER, 0, false},
    {"junk after", "12x", -EINVAL, SF_OTHER, 0, false},
    {"a tab before", "\t1", -EINVAL, SF_OTHER, 0, false},
    {"empty", "", -EINVAL, SF_OTHER, 0, false},
    {"decimal", "1.5", 0, SF_OTHER, 0, false},
    {"token", "abc", 0, SF_OTHER, 0, false},
    {"string", "\"a\\\"b\"", 0, SF_OTHER, 0, false},
    {"unterminated string", "\"ab", -EINVAL, SF_OTHER, 0, false},
    {"bytes", ":AAAA:", 0, SF_BYTES, 0, false},
    {"minus alone", "-", -EINVAL, SF_OTHER, 0, false},
};

static void test_item(void **state)
{
    const struct item_case *c = *state;
    size_t len = strlen(c->in);
    struct sf_item it;
    struct guard g;

    for (size_t k = 0; k < len; k++) {
        guard_open(&g, k + 1);
        (void)sf_item_parse(guard_put(&g, c->in, k), k, &it);
        guard_close(&g);
    }
    memset(&it, 0x5a, sizeof it);
    struct sf_item before = it;
    guard_open(&g, len + 1);
    int rc = sf_item_parse(guard_put(&g, c->in, len), len, &it);
    guard_close(&g);
    if (rc != c->rc)
        fail_msg("%s: \"%s\" gave %d, want %d", c->name, c->in, rc, c->rc);
    if (rc < 0) {
        assert_memory_equal(&it, &before, sizeof it);
        return;
    }
    assert_int_equal(it.kind, c->kind);
    if (c->kind == SF_INTEGER)
        assert_int_equal(it.integer, c->integer);
    if (c->kind == SF_BOOLEAN)
        assert_int_equal(it.boolean, c->boolean);
}

struct dict_case {
    const char *name;
    const char *in;
    const char *key;
    int rc;
    enum sf_kind kind;
    int64_t integer;
};

static const struct dict_case dicts[] = {
    {"one member", "max-age=3600", "max-age", 1, SF_INTEGER, 3600},
    {"among others", "max-size=1000, max-age=60", "max-age", 1, SF_INTEGER, 60},
    {"absent", "max-size=1000", "max-age", 0, SF_OTHER, 0},
    {"the last wins", "max-age=1, max-age=2", "max-age", 1, SF_INTEGER, 2},
    {"a bare key is true", "a, max-age", "max-age", 1, SF_BOOLEAN, 0},
    {"unknown keys with odd values", "x=(1 2);q, y=\"s\", max-age=5", "max-age", 1, SF_INTEGER, 5},
    {"malformed elsewhere", "max-age=5, X=1", "max-age", -EINVAL, SF_OTHER, 0},
    {"empty", "", "max-age", 0, SF_OTHER, 0},
    {"trailing comma", "max-age=5,", "max-age", -EINVAL, SF_OTHER, 0},
    {"key prefix is not the key", "max-agex=5", "max-age", 0, SF_OTHER, 0},
};

static void test_dict(void **state)
{
    const struct dict_case *c = *state;
    size_t len = strlen(c->in);
    struct sf_item it;
    struct guard g;

    for (size_t k = 0; k < len; k++) {
        guard_open(&g, k + 1);
        (void)sf_dict_find(guard_put(&g, c->in, k), k, c->key, &it);
        guard_close(&g);
    }
    guard_open(&g, len + 1);
    int rc = sf_dict_find(guard_put(&g, c->in, len), len, c->key, &it);
    guard_close(&g);
    if (rc != c->rc)
        fail_msg("%s: \"%s\" gave %d, want %d", c->name, c->in, rc, c->rc);
    if (rc == 1) {
        assert_int_equal(it.kind, c->kind);
        if (c->kind == SF_INTEGER)
            assert_int_equal(it.integer, c->integer);
    }
}

int main(void)
{
    static struct unit_list l;

    UNIT_ADD_ROWS(&l, items, test_item);
    UNIT_ADD_ROWS(&l, dicts, test_dict);
    return unit_run("sf", &l);
}
