/* Unit tests for proto/zip: every record byte for byte against the
 * APPNOTE 6.3 layout (local header 4.3.7, data descriptor 4.3.9, central
 * record 4.3.12, zip64 end record 4.3.14 and locator 4.3.15, end record
 * 4.3.16, zip64 extra 4.5.3, extended timestamp 0x5455), zip64 on both
 * sides of each limit, every too small output buffer ending at a guard
 * page, the refusals, and the DOS time's clamps. */
#include "unit.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "proto/zip.h"

/* Parses hex pairs (spaces ignored) into out; returns the count. */
static size_t unhex(const char *hex, unsigned char *out, size_t outsz)
{
    size_t n = 0;
    for (const char *p = hex; *p != '\0';) {
        if (*p == ' ') {
            p++;
            continue;
        }
        unsigned v;
        if (sscanf(p, "%2x", &v) != 1 || n == outsz)
            fail_msg("bad expected hex at \"%s\"", p);
        out[n++] = (unsigned char)v;
        p += 2;
    }
    return n;
}

enum rec { R_LOCAL, R_CENTRAL, R_DESCRIPTOR };

#define DOS_T 0xb1aa /* 2023-11-14 22:13:20 */
#define DOS_D 0x576e
#define MTIME 1700000000
#define UT "55 54 05 00 01 00 f1 53 65"
#define Z8 "00 00 00 00 00 00 00 00"

struct rec_case {
    const char *name;
    enum rec rec;
    const char *member;
    bool dir;
    uint64_t size;
    uint32_t crc;
    uint64_t offset;
    uint32_t mode;
    bool zip64;
    const char *want; /* hex */
};

static const struct rec_case rec_cases[] = {
    {"local: a small file", R_LOCAL, "a.txt", false, 5, 0x3610a686, 0, 0100644, false,
     "50 4b 03 04 14 00 08 08 00 00 aa b1 6e 57 00 00 00 00 00 00 00 00 00 00 00 00 05 00 09 00"
     " 61 2e 74 78 74 " UT},
    {"local: a directory has no descriptor flag", R_LOCAL, "d/", true, 0, 0, 0x30, 040755, false,
     "50 4b 03 04 14 00 00 08 00 00 aa b1 6e 57 00 00 00 00 00 00 00 00 00 00 00 00 02 00 09 00"
     " 64 2f " UT},
    {"local: zip64 file of 5 GiB", R_LOCAL, "b", false, 0x140000000, 0, 0, 0100644, true,
     "50 4b 03 04 2d 00 08 08 00 00 aa b1 6e 57 00 00 00 00 ff ff ff ff ff ff ff ff 01 00 1d 00"
     " 62 01 00 10 00 " Z8 " " Z8 " " UT},
    {"local: 0xFFFFFFFF bytes is zip64", R_LOCAL, "b", false, 0xffffffff, 0, 0, 0100644, true,
     "50 4b 03 04 2d 00 08 08 00 00 aa b1 6e 57 00 00 00 00 ff ff ff ff ff ff ff ff 01 00 1d 00"
     " 62 01 00 10 00 " Z8 " " Z8 " " UT},
    {"local: offset past 4 GiB: version 4.5, no zip64 field", R_LOCAL, "b", false, 3, 0,
     0x100000000, 0100644, true,
     "50 4b 03 04 2d 00 08 08 00 00 aa b1 6e 57 00 00 00 00 00 00 00 00 00 00 00 00 01 00 09 00"
     " 62 " UT},
    {"descriptor: small", R_DESCRIPTOR, "a.txt", false, 5, 0x3610a686, 0, 0100644, false,
     "50 4b 07 08 86 a6 10 36 05 00 00 00 05 00 00 00"},
    {"descriptor: zip64 sizes", R_DESCRIPTOR, "b", false, 0x140000000, 0xdeadbeef, 0, 0100644, true,
     "50 4b 07 08 ef be ad de 00 00 00 40 01 00 00 00 00 00 00 40 01 00 00 00"},
    {"descriptor: offset past 4 GiB keeps 4-byte sizes", R_DESCRIPTOR, "b", false, 3, 1,
     0x100000000, 0100644, true, "50 4b 07 08 01 00 00 00 03 00 00 00 03 00 00 00"},
    {"central: a small file", R_CENTRAL, "a.txt", false, 5, 0x3610a686, 100, 0100644, false,
     "50 4b 01 02 14 03 14 00 08 08 00 00 aa b1 6e 57 86 a6 10 36 05 00 00 00 05 00 00 00 05 00"
     " 09 00 00 00 00 00 00 00 00 00 a4 81 64 00 00 00 61 2e 74 78 74 " UT},
    {"central: a directory", R_CENTRAL, "d/", true, 0, 0, 0x30, 040755, false,
     "50 4b 01 02 14 03 14 00 00 08 00 00 aa b1 6e 57 00 00 00 00 00 00 00 00 00 00 00 00 02 00"
     " 09 00 00 00 00 00 00 00 10 00 ed 41 30 00 00 00 64 2f " UT},
    {"central: zip64 sizes and offset", R_CENTRAL, "b", false, 0x140000000, 0xdeadbeef, 0x100000000,
     0100644, true,
     "50 4b 01 02 2d 03 2d 00 08 08 00 00 aa b1 6e 57 ef be ad de ff ff ff ff ff ff ff ff 01 00"
     " 25 00 00 00 00 00 00 00 00 00 a4 81 ff ff ff ff 62 01 00 18 00 00 00 00 40 01 00 00 00"
     " 00 00 00 40 01 00 00 00 00 00 00 00 01 00 00 00 " UT},
    {"central: zip64 offset only", R_CENTRAL, "b", false, 3, 0x01020304, 0x123456789, 0100644, true,
     "50 4b 01 02 2d 03 2d 00 08 08 00 00 aa b1 6e 57 04 03 02 01 03 00 00 00 03 00 00 00 01 00"
     " 15 00 00 00 00 00 00 00 00 00 a4 81 ff ff ff ff 62 01 00 08 00 89 67 45 23 01 00 00 00 " UT},
    {"central: 0xFFFFFFFE bytes is not zip64", R_CENTRAL, "b", false, 0xfffffffe, 0, 0, 0100600,
     false,
     "50 4b 01 02 14 03 14 00 08 08 00 00 aa b1 6e 57 00 00 00 00 fe ff ff ff fe ff ff ff 01 00"
     " 09 00 00 00 00 00 00 00 00 00 80 81 00 00 00 00 62 " UT},
    {"central: only the permission bits and the type are kept", R_CENTRAL, "b", false, 0, 0, 0,
     0107777, false,
     "50 4b 01 02 14 03 14 00 08 08 00 00 aa b1 6e 57 00 00 00 00 00 00 00 00 00 00 00 00 01 00"
     " 09 00 00 00 00 00 00 00 00 00 ff 81 00 00 00 00 62 " UT},
};

static long write_rec(const struct rec_case *c, const struct zip_entry *e, char *out, size_t sz)
{
    switch (c->rec) {
    case R_LOCAL:
        return zip_local(e, out, sz);
    case R_CENTRAL:
        return zip_central(e, out, sz);
    case R_DESCRIPTOR:
        return zip_descriptor(e, out, sz);
    }
    return -EINVAL;
}

static void test_rec(void **state)
{
    const struct rec_case *c = *state;
    struct zip_entry e = {.name = c->member,
                          .name_len = strlen(c->member),
                          .dir = c->dir,
                          .size = c->size,
                          .crc = c->crc,
                          .offset = c->offset,
                          .mode = c->mode,
                          .mtime = MTIME,
                          .dos_time = DOS_T,
                          .dos_date = DOS_D};
    unsigned char want[ZIP_CENTRAL_MAX];
    size_t wlen = unhex(c->want, want, sizeof want);
    struct guard g;

    assert_int_equal(zip_entry_zip64(&e), c->zip64);
    guard_open(&g, ZIP_CENTRAL_MAX);
    char *out = (char *)guard_put(&g, "", 0) - ZIP_CENTRAL_MAX;
    long n = write_rec(c, &e, out, ZIP_CENTRAL_MAX);
    if (n != (long)wlen)
        fail_msg("%s: wrote %ld, want %zu", c->name, n, wlen);
    assert_memory_equal(out, want, wlen);
    /* Exactly enough room, ending at the guard page, is enough. */
    char *exact = (char *)guard_put(&g, "", 0) - wlen;
    assert_int_equal(write_rec(c, &e, exact, wlen), (long)wlen);
    assert_memory_equal(exact, want, wlen);
    /* Every shorter buffer is refused, and nothing is written past it. */
    for (size_t sz = 0; sz < wlen; sz++) {
        char *o = (char *)guard_put(&g, "", 0) - sz;
        if (write_rec(c, &e, o, sz) != -ENOBUFS)
            fail_msg("%s: outsz %zu of %zu not refused", c->name, sz, wlen);
    }
    guard_close(&g);
}

struct end_case {
    const char *name;
    uint64_t entries, cd_size, cd_offset;
    const char *want;
};

static const struct end_case end_cases[] = {
    {"end: small", 3, 0x9c, 0x1234,
     "50 4b 05 06 00 00 00 00 03 00 03 00 9c 00 00 00 34 12 00 00 00 00"},
    {"end: 65534 entries is not zip64", 0xfffe, 0x100, 0x200,
     "50 4b 05 06 00 00 00 00 fe ff fe ff 00 01 00 00 00 02 00 00 00 00"},
    {"end: 65535 entries is zip64", 0xffff, 0x100, 0x200,
     "50 4b 06 06 2c 00 00 00 00 00 00 00 2d 03 2d 00 00 00 00 00 00 00 00 00"
     " ff ff 00 00 00 00 00 00 ff ff 00 00 00 00 00 00 00 01 00 00 00 00 00 00"
     " 00 02 00 00 00 00 00 00"
     " 50 4b 06 07 00 00 00 00 00 03 00 00 00 00 00 00 01 00 00 00"
     " 50 4b 05 06 00 00 00 00 ff ff ff ff 00 01 00 00 00 02 00 00 00 00"},
    {"end: central directory past 4 GiB is zip64", 2, 0x80, 0x100000010,
     "50 4b 06 06 2c 00 00 00 00 00 00 00 2d 03 2d 00 00 00 00 00 00 00 00 00"
     " 02 00 00 00 00 00 00 00 02 00 00 00 00 00 00 00 80 00 00 00 00 00 00 00"
     " 10 00 00 00 01 00 00 00"
     " 50 4b 06 07 00 00 00 00 90 00 00 00 01 00 00 00 01 00 00 00"
     " 50 4b 05 06 00 00 00 00 02 00 02 00 80 00 00 00 ff ff ff ff 00 00"},
    {"end: empty archive", 0, 0, 0,
     "50 4b 05 06 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00"},
};

static void test_end(void **state)
{
    const struct end_case *c = *state;
    struct zip_end end = {c->entries, c->cd_size, c->cd_offset};
    unsigned char want[ZIP_END_MAX];
    size_t wlen = unhex(c->want, want, sizeof want);
    struct guard g;

    guard_open(&g, ZIP_END_MAX);
    char *out = (char *)guard_put(&g, "", 0) - wlen;
    assert_int_equal(zip_end(&end, out, wlen), (long)wlen);
    assert_memory_equal(out, want, wlen);
    for (size_t sz = 0; sz < wlen; sz++) {
        char *o = (char *)guard_put(&g, "", 0) - sz;
        assert_int_equal(zip_end(&end, o, sz), -ENOBUFS);
    }
    guard_close(&g);
}

struct bad_case {
    const char *name;
    const char *member;
    size_t len;
    long want;
};

static const struct bad_case bad_cases[] = {
    {"refused: empty name", "", 0, -ENAMETOOLONG},
    {"refused: NUL in the name", "a\0b", 3, -EINVAL},
};

static void test_bad(void **state)
{
    const struct bad_case *c = *state;
    char out[ZIP_CENTRAL_MAX];
    struct zip_entry e = {.name = c->member, .name_len = c->len, .mode = 0100644};

    assert_int_equal(zip_local(&e, out, sizeof out), c->want);
    assert_int_equal(zip_central(&e, out, sizeof out), c->want);
}

static void test_too_long(void **state)
{
    static char name[ZIP_NAME_MAX + 1], out[ZIP_CENTRAL_MAX + 1];
    memset(name, 'c', sizeof name);
    struct zip_entry e = {.name = name, .name_len = ZIP_NAME_MAX + 1, .mode = 0100644};
    assert_int_equal(zip_local(&e, out, sizeof out), -ENAMETOOLONG);
    assert_int_equal(zip_central(&e, out, sizeof out), -ENAMETOOLONG);
    /* The longest accepted name with every extra fits the _MAX sizes. */
    e.name_len = ZIP_NAME_MAX;
    e.size = 0x140000000;
    e.offset = 0x140000000;
    assert_int_equal(zip_local(&e, out, ZIP_LOCAL_MAX), ZIP_LOCAL_FIXED + ZIP_NAME_MAX + 29);
    assert_int_equal(zip_central(&e, out, ZIP_CENTRAL_MAX), ZIP_CENTRAL_MAX);
}

static void test_descriptor_of_a_directory(void **state)
{
    char out[ZIP_DESCRIPTOR_MAX];
    struct zip_entry e = {.name = "d/", .name_len = 2, .dir = true};
    assert_int_equal(zip_descriptor(&e, out, sizeof out), -EINVAL);
}

struct dos_case {
    const char *name;
    int year, mon, mday, hour, min, sec; /* calendar values */
    uint16_t want_time, want_date;
};

static const struct dos_case dos_cases[] = {
    {"dos: 2023-11-14 22:13:20", 2023, 11, 14, 22, 13, 20, 0xb1aa, 0x576e},
    {"dos: odd seconds halve down", 2000, 2, 29, 12, 34, 57, 0x645c, 0x285d},
    {"dos: 1980-01-01 is the first", 1980, 1, 1, 0, 0, 0, 0, 0x0021},
    {"dos: before 1980 clamps", 1979, 12, 31, 23, 59, 59, 0, 0x0021},
    {"dos: 1970 clamps", 1970, 1, 1, 0, 0, 0, 0, 0x0021},
    {"dos: 2107-12-31 23:59:59 is the last", 2107, 12, 31, 23, 59, 59, 0xbf7d, 0xff9f},
    {"dos: after 2107 clamps", 2108, 1, 1, 0, 0, 0, 0xbf7d, 0xff9f},
};

static void test_dos(void **state)
{
    const struct dos_case *c = *state;
    struct tm tm = {.tm_year = c->year - 1900,
                    .tm_mon = c->mon - 1,
                    .tm_mday = c->mday,
                    .tm_hour = c->hour,
                    .tm_min = c->min,
                    .tm_sec = c->sec};
    uint16_t t = 1, d = 1;

    zip_dos_time(&tm, &t, &d);
    assert_int_equal(t, c->want_time);
    assert_int_equal(d, c->want_date);
}

/* The extended timestamp holds 4 signed bytes: before 1970 is 1970, past
 * 2038 the last second it holds. */
static void test_ut_clamps(void **state)
{
    static const struct {
        int64_t mtime;
        const char *want;
    } rows[] = {{-5, "00 00 00 00"},
                {0, "00 00 00 00"},
                {0x7fffffff, "ff ff ff 7f"},
                {0x80000000, "ff ff ff 7f"},
                {INT64_MAX, "ff ff ff 7f"}};
    char out[ZIP_LOCAL_MAX];
    unsigned char want[4];

    for (size_t i = 0; i < ARRAY_LEN(rows); i++) {
        struct zip_entry e = {.name = "x", .name_len = 1, .mode = 0100644, .mtime = rows[i].mtime};
        long n = zip_local(&e, out, sizeof out);
        assert_int_equal(n, ZIP_LOCAL_FIXED + 1 + 9);
        unhex(rows[i].want, want, sizeof want);
        assert_memory_equal(out + n - 4, want, 4);
    }
}

int main(void)
{
    static struct unit_list l;

    UNIT_ADD_ROWS(&l, rec_cases, test_rec);
    UNIT_ADD_ROWS(&l, end_cases, test_end);
    UNIT_ADD_ROWS(&l, bad_cases, test_bad);
    UNIT_ADD_ROWS(&l, dos_cases, test_dos);
    unit_add(&l, "refused: name past ZIP_NAME_MAX; the longest fits", test_too_long, NULL);
    unit_add(&l, "refused: a directory's descriptor", test_descriptor_of_a_directory, NULL);
    unit_add(&l, "extended timestamp clamps", test_ut_clamps, NULL);
    return unit_run("zip", &l);
}
