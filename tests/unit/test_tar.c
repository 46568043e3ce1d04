/* Unit tests for proto/tar: ustar header fields and checksums, the
 * prefix/name split, pax records for long names and big sizes, every too
 * small output buffer (ending at a guard page), and the refusals. */
#include "unit.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "proto/tar.h"

/* The octal number in field[0..width), which must end in NUL or space. */
static uint64_t octal_field(const char *field, size_t width)
{
    uint64_t v = 0;
    size_t i = 0;

    for (; i < width && field[i] >= '0' && field[i] <= '7'; i++)
        v = v * 8 + (uint64_t)(field[i] - '0');
    if (i == width || (field[i] != '\0' && field[i] != ' '))
        fail_msg("field \"%.*s\" is not octal", (int)width, field);
    return v;
}

/* Checks the block's checksum, magic and version. */
static void check_block(const char *b)
{
    unsigned sum = 0;
    for (size_t i = 0; i < TAR_BLOCK; i++)
        sum += i >= 148 && i < 156 ? ' ' : (unsigned char)b[i];
    assert_int_equal(octal_field(b + 148, 8), sum);
    assert_memory_equal(b + 257,
                        "ustar\0"
                        "00",
                        8);
    assert_int_equal(octal_field(b + 108, 8), 0); /* uid */
    assert_int_equal(octal_field(b + 116, 8), 0); /* gid */
    assert_int_equal(b[265], '\0');               /* uname */
    assert_int_equal(b[297], '\0');               /* gname */
}

/* The member name a ustar reader sees: prefix "/" name. */
static void ustar_name(const char *b, char *out)
{
    char name[101] = "", prefix[156] = "";
    memcpy(name, b, 100);
    memcpy(prefix, b + 345, 155);
    sprintf(out, "%s%s%s", prefix, prefix[0] ? "/" : "", name);
}

/* Parses the pax records in rec[0..len): each "LEN key=value\n" with LEN
 * its own length. Copies the value of key to out; returns whether found. */
static bool pax_value(const char *rec, size_t len, const char *key, char *out, size_t outsz)
{
    size_t pos = 0;
    bool found = false;

    while (pos < len) {
        char *end;
        unsigned long n = strtoul(rec + pos, &end, 10);
        assert_true(n > 0 && pos + n <= len);
        assert_int_equal(*end, ' ');
        assert_int_equal(rec[pos + n - 1], '\n');
        const char *kv = end + 1, *eq = memchr(kv, '=', (size_t)(rec + pos + n - kv));
        assert_non_null(eq);
        if ((size_t)(eq - kv) == strlen(key) && memcmp(kv, key, strlen(key)) == 0) {
            size_t vlen = (size_t)(rec + pos + n - 1 - (eq + 1));
            assert_true(vlen < outsz);
            memcpy(out, eq + 1, vlen);
            out[vlen] = '\0';
            found = true;
        }
        pos += n;
    }
    return found;
}

struct hdr_case {
    const char *name;
    size_t name_len; /* of a generated name: 'a' repeated, with slashes at slash_at */
    size_t slash_at[3];
    char type;
    uint64_t size;
    int64_t mtime;
    long want_len;         /* bytes written */
    bool want_path_record; /* the name went into a pax record */
    bool want_size_record;
    int64_t want_mtime;
};

#define GiB (1ull << 30)
static const struct hdr_case hdr_cases[] = {
    {"header: short file", 5, {0}, TAR_FILE, 1234, 1700000000, 512, false, false, 1700000000},
    {"header: empty file", 1, {0}, TAR_FILE, 0, 0, 512, false, false, 0},
    {"header: directory", 4, {0}, TAR_DIR, 0, 5, 512, false, false, 5},
    {"header: name of 100", 100, {0}, TAR_FILE, 1, 1, 512, false, false, 1},
    {"header: 101 without a slash: pax", 101, {0}, TAR_FILE, 1, 1, 1536, true, false, 1},
    {"header: 101 split by prefix", 101, {50}, TAR_FILE, 1, 1, 512, false, false, 1},
    {"header: prefix of exactly 155", 200, {155}, TAR_FILE, 1, 1, 512, false, false, 1},
    {"header: prefix of 156: pax", 200, {156}, TAR_FILE, 1, 1, 1536, true, false, 1},
    {"header: name part over 100 after the split: pax",
     250,
     {148},
     TAR_FILE,
     1,
     1,
     1536,
     true,
     false,
     1},
    {"header: trailing slash only: pax", 150, {149}, TAR_DIR, 0, 1, 1536, true, false, 1},
    {"header: 8 GiB - 1 fits", 3, {0}, TAR_FILE, 8 * GiB - 1, 1, 512, false, false, 1},
    {"header: 8 GiB: pax size", 3, {0}, TAR_FILE, 8 * GiB, 1, 1536, false, true, 1},
    {"header: long and big", 300, {0}, TAR_FILE, 1ull << 40, 1, 1536, true, true, 1},
    {"header: name 4000: pax of 8 blocks",
     4000,
     {1000, 2000, 3000},
     TAR_FILE,
     1,
     1,
     512 + 4096 + 512,
     true,
     false,
     1},
    {"header: negative mtime is 0", 3, {0}, TAR_FILE, 1, -5, 512, false, false, 0},
    {"header: mtime past ustar is clamped",
     3,
     {0},
     TAR_FILE,
     1,
     1ll << 40,
     512,
     false,
     false,
     077777777777ll},
    {"header: name of TAR_NAME_MAX",
     TAR_NAME_MAX,
     {0},
     TAR_FILE,
     1,
     1,
     1024 + (TAR_NAME_MAX + 16 + 511) / 512 * 512,
     true,
     false,
     1},
};

static char *make_name(const struct hdr_case *c)
{
    char *n = malloc(c->name_len + 1);
    assert_non_null(n);
    memset(n, 'a', c->name_len);
    for (size_t i = 0; i < 3; i++)
        if (c->slash_at[i] > 0)
            n[c->slash_at[i]] = '/';
    if (c->type == TAR_DIR)
        n[c->name_len - 1] = '/';
    n[c->name_len] = '\0';
    return n;
}

static void test_header(void **state)
{
    const struct hdr_case *c = *state;
    char *name = make_name(c);
    struct tar_member m = {name, c->name_len, c->type, c->size, 0100644, c->mtime};
    struct guard g;
    char seen[TAR_NAME_MAX + 1], val[TAR_NAME_MAX + 1];

    guard_open(&g, TAR_HEADER_MAX);
    char *out = (char *)guard_put(&g, "", 0) - TAR_HEADER_MAX;
    long n = tar_header(&m, out, TAR_HEADER_MAX);
    if (n != c->want_len)
        fail_msg("%s: wrote %ld, want %ld", c->name, n, c->want_len);
    const char *ustar = out + n - TAR_BLOCK;
    check_block(ustar);
    assert_int_equal(ustar[156], c->type);
    assert_int_equal(octal_field(ustar + 100, 8), 0644);
    assert_int_equal(octal_field(ustar + 136, 12), (uint64_t)c->want_mtime);
    assert_int_equal(octal_field(ustar + 124, 12), c->want_size_record ? 0 : c->size);
    ustar_name(ustar, seen);
    if (!c->want_path_record)
        assert_string_equal(seen, name);
    if (n > TAR_BLOCK) {
        check_block(out);
        assert_int_equal(out[156], 'x');
        uint64_t rlen = octal_field(out + 124, 12);
        assert_int_equal((rlen + 511) / 512 * 512 + 1024, (uint64_t)n);
        for (uint64_t i = rlen; i < (uint64_t)n - 1024; i++)
            assert_int_equal(out[512 + i], '\0');
        assert_int_equal(pax_value(out + 512, rlen, "path", val, sizeof val), c->want_path_record);
        if (c->want_path_record)
            assert_string_equal(val, name);
        assert_int_equal(pax_value(out + 512, rlen, "size", val, sizeof val), c->want_size_record);
        if (c->want_size_record)
            assert_int_equal(strtoull(val, NULL, 10), c->size);
    }
    /* Every shorter buffer is refused, and nothing is written past it. */
    for (size_t sz = 0; sz < (size_t)n; sz += sz < 600 ? 1 : 256) {
        char *o = (char *)guard_put(&g, "", 0) - sz;
        if (tar_header(&m, o, sz) != -ENOBUFS)
            fail_msg("%s: outsz %zu of %ld not refused", c->name, sz, n);
    }
    guard_close(&g);
    free(name);
}

/* pax record lengths count their own digits, across every digit boundary. */
static void test_pax_lengths(void **state)
{
    static char out[TAR_HEADER_MAX];
    char name[1200], val[1200];

    for (size_t len = 101; len < sizeof name - 1; len++) {
        memset(name, 'b', len);
        name[len] = '\0';
        struct tar_member m = {name, len, TAR_FILE, 0, 0644, 0};
        long n = tar_header(&m, out, sizeof out);
        assert_true(n > 0);
        uint64_t rlen = octal_field(out + 124, 12);
        assert_true(pax_value(out + 512, rlen, "path", val, sizeof val));
        assert_string_equal(val, name);
    }
}

struct bad_case {
    const char *name;
    const char *member;
    size_t len;
    char type;
    long want;
};

static const struct bad_case bad_cases[] = {
    {"refused: empty name", "", 0, TAR_FILE, -ENAMETOOLONG},
    {"refused: NUL in the name", "a\0b", 3, TAR_FILE, -EINVAL},
    {"refused: symlink type", "a", 1, '2', -EINVAL},
    {"refused: pax type", "a", 1, 'x', -EINVAL},
};

static void test_bad(void **state)
{
    const struct bad_case *c = *state;
    char out[TAR_HEADER_MAX];
    struct tar_member m = {c->member, c->len, c->type, 0, 0644, 0};

    assert_int_equal(tar_header(&m, out, sizeof out), c->want);
}

static void test_too_long(void **state)
{
    static char name[TAR_NAME_MAX + 2], out[TAR_HEADER_MAX];
    memset(name, 'c', sizeof name - 1);
    struct tar_member m = {name, TAR_NAME_MAX + 1, TAR_FILE, 0, 0644, 0};
    assert_int_equal(tar_header(&m, out, sizeof out), -ENAMETOOLONG);
}

static void test_pad(void **state)
{
    assert_int_equal(tar_pad(0), 0);
    assert_int_equal(tar_pad(1), 511);
    assert_int_equal(tar_pad(511), 1);
    assert_int_equal(tar_pad(512), 0);
    assert_int_equal(tar_pad(513), 511);
    assert_int_equal(tar_pad(UINT64_MAX), 1);
}

int main(void)
{
    static struct unit_list l;

    UNIT_ADD_ROWS(&l, hdr_cases, test_header);
    UNIT_ADD_ROWS(&l, bad_cases, test_bad);
    unit_add(&l, "refused: name past TAR_NAME_MAX", test_too_long, NULL);
    unit_add(&l, "pax record lengths at every digit boundary", test_pax_lengths, NULL);
    unit_add(&l, "padding", test_pad, NULL);
    return unit_run("tar", &l);
}
