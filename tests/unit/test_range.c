/* Unit tests for proto/range: the Range header against a representation
 * size, syntax errors, 64-bit overflow and the spec count limit. */
#include "unit.h"

#include <stdio.h>

#include "proto/range.h"

#define GIB (1024ull * 1024 * 1024)

struct range_case {
    const char *name;
    const char *in;
    uint64_t size;
    enum range_result want;
    uint64_t first, last; /* checked for RANGE_ONE */
};

/* clang-format off */
static const struct range_case cases[] = {
    {"first bytes", "bytes=0-499", 1000, RANGE_ONE, 0, 499},
    {"middle bytes", "bytes=500-599", 1000, RANGE_ONE, 500, 599},
    {"last byte", "bytes=999-999", 1000, RANGE_ONE, 999, 999},
    {"single byte", "bytes=0-0", 1, RANGE_ONE, 0, 0},
    {"open-ended", "bytes=500-", 1000, RANGE_ONE, 500, 999},
    {"open-ended from zero", "bytes=0-", 1000, RANGE_ONE, 0, 999},
    {"suffix", "bytes=-500", 1000, RANGE_ONE, 500, 999},
    {"suffix of one byte", "bytes=-1", 1000, RANGE_ONE, 999, 999},
    {"suffix equal to the size", "bytes=-1000", 1000, RANGE_ONE, 0, 999},
    {"suffix larger than the size", "bytes=-5000", 1000, RANGE_ONE, 0, 999},
    {"last clamped to size-1", "bytes=0-5000", 1000, RANGE_ONE, 0, 999},
    {"last equal to size clamped", "bytes=10-1000", 1000, RANGE_ONE, 10, 999},
    {"unit in upper case", "Bytes=0-1", 1000, RANGE_ONE, 0, 1},
    {"first equal to the size", "bytes=1000-", 1000, RANGE_UNSATISFIABLE, 0, 0},
    {"first beyond the size", "bytes=1000-2000", 1000, RANGE_UNSATISFIABLE, 0, 0},
    {"suffix of zero", "bytes=-0", 1000, RANGE_UNSATISFIABLE, 0, 0},
    {"size 0 with open-ended", "bytes=0-", 0, RANGE_UNSATISFIABLE, 0, 0},
    {"size 0 with a range", "bytes=0-0", 0, RANGE_UNSATISFIABLE, 0, 0},
    {"size 0 with a suffix", "bytes=-1", 0, RANGE_UNSATISFIABLE, 0, 0},
    {"two ranges", "bytes=0-1,5-6", 1000, RANGE_MANY, 0, 0},
    {"overlapping ranges", "bytes=0-5,3-8", 1000, RANGE_MANY, 0, 0},
    {"range and suffix", "bytes=0-1,-1", 1000, RANGE_MANY, 0, 0},
    {"two ranges, the second unsatisfiable", "bytes=0-1,2000-3000", 1000, RANGE_ONE, 0, 1},
    {"two ranges, the first unsatisfiable", "bytes=2000-3000,10-20", 1000, RANGE_ONE, 10, 20},
    {"suffix of zero and a range", "bytes=-0,7-8", 1000, RANGE_ONE, 7, 8},
    {"two unsatisfiable ranges", "bytes=2000-,3000-", 1000, RANGE_UNSATISFIABLE, 0, 0},
    {"syntax: empty value", "", 1000, RANGE_NONE, 0, 0},
    {"syntax: unit alone", "bytes", 1000, RANGE_NONE, 0, 0},
    {"syntax: bytes=", "bytes=", 1000, RANGE_NONE, 0, 0},
    {"syntax: bytes=a-b", "bytes=a-b", 1000, RANGE_NONE, 0, 0},
    {"syntax: bytes=5-3", "bytes=5-3", 1000, RANGE_NONE, 0, 0},
    {"syntax: items=0-1", "items=0-1", 1000, RANGE_NONE, 0, 0},
    {"syntax: bytes=--1", "bytes=--1", 1000, RANGE_NONE, 0, 0},
    {"syntax: bytes=-", "bytes=-", 1000, RANGE_NONE, 0, 0},
    {"syntax: no dash", "bytes=5", 1000, RANGE_NONE, 0, 0},
    {"syntax: two dashes", "bytes=1-2-3", 1000, RANGE_NONE, 0, 0},
    {"syntax: semicolon separator", "bytes=0-1;2-3", 1000, RANGE_NONE, 0, 0},
    {"syntax: missing comma", "bytes=0-1 2-3", 1000, RANGE_NONE, 0, 0},
    {"syntax: space before =", "bytes =0-1", 1000, RANGE_NONE, 0, 0},
    {"syntax: space before dash", "bytes=0 -1", 1000, RANGE_NONE, 0, 0},
    {"syntax: space after dash", "bytes=0- 1", 1000, RANGE_NONE, 0, 0},
    {"syntax: plus sign", "bytes=+1-2", 1000, RANGE_NONE, 0, 0},
    {"syntax: hexadecimal", "bytes=0x10-20", 1000, RANGE_NONE, 0, 0},
    {"syntax: negative last", "bytes=5--1", 1000, RANGE_NONE, 0, 0},
    {"syntax: error after a good range", "bytes=0-1,x", 1000, RANGE_NONE, 0, 0},
    {"syntax: error after an unsatisfiable range", "bytes=2000-,x", 1000, RANGE_NONE, 0, 0},
    {"syntax: only commas", "bytes=,", 1000, RANGE_NONE, 0, 0},
    {"syntax: only white space and commas", "bytes= , ,\t", 1000, RANGE_NONE, 0, 0},
    {"white space before a range", "bytes= 0-1", 1000, RANGE_ONE, 0, 1},
    {"white space after a range", "bytes=0-1 ", 1000, RANGE_ONE, 0, 1},
    {"white space around commas", "bytes=0-1 , 5-6", 1000, RANGE_MANY, 0, 0},
    {"tabs around a range", "bytes=\t0-1\t,\t", 1000, RANGE_ONE, 0, 1},
    {"leading empty element", "bytes=,0-1", 1000, RANGE_ONE, 0, 1},
    {"trailing empty elements", "bytes=0-1,,,", 1000, RANGE_ONE, 0, 1},
    {"empty elements between", "bytes=0-1, ,,7-8", 1000, RANGE_MANY, 0, 0},
    {"overflow: last", "bytes=0-99999999999999999999999", 1000, RANGE_ONE, 0, 999},
    {"overflow: first", "bytes=99999999999999999999999-", 1000, RANGE_UNSATISFIABLE, 0, 0},
    {"overflow: suffix", "bytes=-99999999999999999999", 1000, RANGE_ONE, 0, 999},
    {"overflow: first and last", "bytes=99999999999999999999999-99999999999999999999999", 1000,
     RANGE_UNSATISFIABLE, 0, 0},
    {"overflow: first beyond an overflowing last is not a syntax error",
     "bytes=99999999999999999999-999999999999999999999", 1000, RANGE_UNSATISFIABLE, 0, 0},
    {"overflow: first above a small last", "bytes=99999999999999999999999-5", 1000, RANGE_NONE,
     0, 0},
    {"overflow: last with a small first", "bytes=5-18446744073709551616", 1000, RANGE_ONE, 5, 999},
    {"UINT64_MAX as first", "bytes=18446744073709551615-", 1000, RANGE_UNSATISFIABLE, 0, 0},
    {"UINT64_MAX as last", "bytes=0-18446744073709551615", 1000, RANGE_ONE, 0, 999},
    {"UINT64_MAX as suffix", "bytes=-18446744073709551615", 1000, RANGE_ONE, 0, 999},
    {"UINT64_MAX - 1 within a UINT64_MAX size", "bytes=18446744073709551614-18446744073709551615",
     UINT64_MAX, RANGE_ONE, UINT64_MAX - 1, UINT64_MAX - 1},
    {"UINT64_MAX first with a UINT64_MAX size", "bytes=18446744073709551615-", UINT64_MAX,
     RANGE_UNSATISFIABLE, 0, 0},
    {"UINT64_MAX + 1 first with a UINT64_MAX size", "bytes=18446744073709551616-", UINT64_MAX,
     RANGE_UNSATISFIABLE, 0, 0},
    {"UINT64_MAX suffix with a UINT64_MAX size", "bytes=-18446744073709551615", UINT64_MAX,
     RANGE_ONE, 0, UINT64_MAX - 1},
    {"6 GiB: across the 4 GiB mark", "bytes=4294967295-4294967296", 6 * GIB, RANGE_ONE,
     4294967295ull, 4294967296ull},
    {"6 GiB: from 4 GiB to the end", "bytes=4294967296-", 6 * GIB, RANGE_ONE, 4 * GIB,
     6 * GIB - 1},
    {"6 GiB: suffix of 2 GiB", "bytes=-2147483648", 6 * GIB, RANGE_ONE, 4 * GIB, 6 * GIB - 1},
    {"6 GiB: suffix of 5 GiB", "bytes=-5368709120", 6 * GIB, RANGE_ONE, GIB, 6 * GIB - 1},
    {"6 GiB: range past 4 GiB", "bytes=5000000000-5000000099", 6 * GIB, RANGE_ONE,
     5000000000ull, 5000000099ull},
    {"6 GiB: last clamped", "bytes=0-6442450944", 6 * GIB, RANGE_ONE, 0, 6 * GIB - 1},
    {"6 GiB: first at the size", "bytes=6442450944-", 6 * GIB, RANGE_UNSATISFIABLE, 0, 0},
    {"6 GiB: last is 2^32 + 1, not 1", "bytes=0-4294967297", 6 * GIB, RANGE_ONE, 0,
     4294967297ull},
};
/* clang-format on */

static void test_case(void **state)
{
    const struct range_case *c = *state;
    size_t len = strlen(c->in);
    struct range r = {12345, 67890};
    struct guard g;

    guard_open(&g, len);
    enum range_result got = range_parse(guard_put(&g, c->in, len), len, c->size, &r);
    if (got != c->want)
        fail_msg("%s: result %d, want %d", c->name, (int)got, (int)c->want);
    if (got == RANGE_ONE && (r.first != c->first || r.last != c->last))
        fail_msg("%s: %llu-%llu, want %llu-%llu", c->name, (unsigned long long)r.first,
                 (unsigned long long)r.last, (unsigned long long)c->first,
                 (unsigned long long)c->last);
    guard_close(&g);
}

/* Builds "bytes=" and n copies of spec joined by sep; returns the length. */
static size_t build_specs(char *out, size_t outsz, size_t n, const char *spec, const char *sep)
{
    size_t len = (size_t)snprintf(out, outsz, "bytes=");
    for (size_t k = 0; k < n; k++) {
        int w = snprintf(out + len, outsz - len, "%s%s", k ? sep : "", spec);
        assert_true(w > 0 && (size_t)w < outsz - len);
        len += (size_t)w;
    }
    return len;
}

struct specs_case {
    const char *name;
    size_t n;
    const char *spec, *sep;
    enum range_result want;
};

static const struct specs_case specs_cases[] = {
    {"RANGE_MAX_SPECS ranges", RANGE_MAX_SPECS, "0-0", ",", RANGE_MANY},
    {"RANGE_MAX_SPECS + 1 ranges", RANGE_MAX_SPECS + 1, "0-0", ",", RANGE_NONE},
    {"RANGE_MAX_SPECS + 1 unsatisfiable ranges", RANGE_MAX_SPECS + 1, "5000-", ",", RANGE_NONE},
    {"RANGE_MAX_SPECS unsatisfiable ranges", RANGE_MAX_SPECS, "5000-", ",", RANGE_UNSATISFIABLE},
    {"RANGE_MAX_SPECS ranges among empty elements", RANGE_MAX_SPECS, "1-2", ", ,,", RANGE_MANY},
    {"many more than RANGE_MAX_SPECS ranges", 10 * RANGE_MAX_SPECS, "0-0", ",", RANGE_NONE},
};

static void test_specs(void **state)
{
    const struct specs_case *c = *state;
    static char in[65536];
    struct range r;
    struct guard g;
    size_t len = build_specs(in, sizeof in, c->n, c->spec, c->sep);

    guard_open(&g, len);
    enum range_result got = range_parse(guard_put(&g, in, len), len, 1000, &r);
    if (got != c->want)
        fail_msg("%s: result %d, want %d", c->name, (int)got, (int)c->want);
    guard_close(&g);
}

/* One satisfiable range among RANGE_MAX_SPECS - 1 unsatisfiable ones. */
static void test_one_among_many(void **state)
{
    static char in[4096];
    struct range r = {0, 0};
    size_t len = build_specs(in, sizeof in, RANGE_MAX_SPECS - 1, "9999-", ",");

    len += (size_t)snprintf(in + len, sizeof in - len, ",-10");
    assert_int_equal(range_parse(in, len, 1000, &r), RANGE_ONE);
    assert_int_equal(r.first, 990);
    assert_int_equal(r.last, 999);
}

/* Every prefix of every case is parsed against the guard page: whatever it
 * answers, it must not read past the end, and a RANGE_ONE must lie within
 * the file. */
static void test_prefixes(void **state)
{
    struct guard g;

    guard_open(&g, 256);
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        const struct range_case *c = &cases[i];
        for (size_t k = 0; k <= strlen(c->in); k++) {
            struct range r = {0, 0};
            enum range_result got = range_parse(guard_put(&g, c->in, k), k, c->size, &r);
            if (got == RANGE_ONE && (r.first > r.last || r.last >= c->size))
                fail_msg("%s: %zu bytes gave %llu-%llu for size %llu", c->name, k,
                         (unsigned long long)r.first, (unsigned long long)r.last,
                         (unsigned long long)c->size);
        }
    }
    guard_close(&g);
}

int main(void)
{
    static struct unit_list l;

    UNIT_ADD_ROWS(&l, cases, test_case);
    UNIT_ADD_ROWS(&l, specs_cases, test_specs);
    unit_add(&l, "one satisfiable among many", test_one_among_many, NULL);
    unit_add(&l, "every prefix stays within the input and the file", test_prefixes, NULL);
    return unit_run("range", &l);
}
