/* Unit tests for proto/cond: the RFC 9110 section 13.2.2 order of
 * If-Match, If-Unmodified-Since, If-None-Match, If-Modified-Since and
 * Range with If-Range, entity tag lists, dates, ranges against small, empty
 * and large files; the ETag and Content-Range formats; and a differential
 * check against the decision fileserver.c made inline before this module,
 * so that switching to it changes nothing a client already saw. */
#include "unit.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>

#include "proto/cond.h"
#include "proto/httpdate.h"
#include "proto/range.h"

#define GIB (1024ull * 1024 * 1024)

/* The file most rows serve: ino 0x2a, 1000 bytes, modified at MTIME and
 * 123456789 ns. OURS is its ETag as cond_etag (and fileserver) writes it. */
#define MTIME ((time_t)1700000000)
#define MTIME_NS 1700000000123456789ull
#define OURS "\"2a-3e8-17979cfe3d85cd15\""
#define OURS_WEAK "W/" OURS
#define OTHER "\"2a-3e8-17979cfe3d85cd16\"" /* one hex digit off */

#define D_BEFORE "Tue, 14 Nov 2023 22:13:19 GMT" /* MTIME - 1 */
#define D_EQUAL "Tue, 14 Nov 2023 22:13:20 GMT"  /* MTIME */
#define D_AFTER "Tue, 14 Nov 2023 22:13:21 GMT"  /* MTIME + 1 */

/* Expected outcomes. FULL is the whole 1000-byte file. */
#define FULL .status = COND_FULL, .first = 0, .last = 999, .length = 1000
#define PART(a, b) .status = COND_PARTIAL, .first = (a), .last = (b), .length = (b) - (a) + 1
#define NOT_MODIFIED .status = COND_NOT_MODIFIED
#define FAILED .status = COND_PRECONDITION_FAILED
#define UNSATISFIABLE .status = COND_UNSATISFIABLE

struct cond_case {
    const char *name;
    uint64_t size;                                 /* 0 means 1000 unless zero_size */
    bool zero_size;                                /* the file is empty */
    bool no_etag;                                  /* the file has no entity tag */
    const char *im, *ius, *inm, *ims, *range, *ir; /* NULL: header absent */
    enum cond_outcome status;
    uint64_t first, last, length;
};

/* Each row is built so that getting the rule it names wrong changes the
 * outcome: a precedence row has the loser say something else, a row that
 * expects a header to be ignored has that header say something else. */
/* clang-format off */
static const struct cond_case cases[] = {
    /* No conditions. */
    {"plain GET", FULL},
    {"empty file", .zero_size = true, .status = COND_FULL, .first = 0, .last = 0, .length = 0},
    {"one-byte file", .size = 1, .status = COND_FULL, .first = 0, .last = 0, .length = 1},

    /* If-None-Match: weak comparison. */
    {"INM: our tag", .inm = OURS, NOT_MODIFIED},
    {"INM: our tag, weak", .inm = OURS_WEAK, NOT_MODIFIED},
    {"INM: another tag", .inm = OTHER, FULL},
    {"INM: *", .inm = "*", NOT_MODIFIED},
    {"INM: * later in a list", .inm = OTHER ", *", NOT_MODIFIED},
    {"INM: ours last in a list with spaces", .inm = "\"x\", \"y\" , " OURS, NOT_MODIFIED},
    {"INM: ours among tabs and empty elements", .inm = ",\t," OURS ",,", NOT_MODIFIED},
    {"INM: ours weak in a list", .inm = "\"x\",W/\"y\"," OURS_WEAK, NOT_MODIFIED},
    {"INM: list without ours", .inm = "\"x\", W/\"y\", " OTHER, FULL},
    {"INM: ours without its quotes", .inm = "2a-3e8-17979cfe3d85cd15", FULL},
    {"INM: ours followed by junk", .inm = OURS " x", FULL},
    {"INM: ours after a tag holding a comma", .inm = "\"a,b\", " OURS, NOT_MODIFIED},
    {"INM: a tag holding a comma and our text", .inm = "\"a," OURS "\"", FULL},
    {"INM: malformed, ours after a comma in quotes", .inm = "\"a," OURS, NOT_MODIFIED},
    {"INM: lower-case w/ is not a weak prefix", .inm = "w/" OURS, FULL},
    {"INM: W/ with a space is not a tag", .inm = "W/ " OURS, FULL},
    {"INM: * followed by junk counts as *", .inm = "*x", NOT_MODIFIED},
    {"IM: * followed by junk counts as *", .im = "* \"x\"", .range = "bytes=1-1", PART(1, 1)},
    {"INM: empty value still hides IMS", .inm = "", .ims = D_AFTER, FULL},

    /* If-None-Match before If-Modified-Since. */
    {"INM mismatch wins over a matching IMS", .inm = OTHER, .ims = D_AFTER, FULL},
    {"INM match wins over a failing IMS", .inm = OURS, .ims = D_BEFORE, NOT_MODIFIED},

    /* If-Modified-Since: 304 when mtime <= date. */
    {"IMS: equal to mtime", .ims = D_EQUAL, NOT_MODIFIED},
    {"IMS: after mtime", .ims = D_AFTER, NOT_MODIFIED},
    {"IMS: before mtime", .ims = D_BEFORE, FULL},
    {"IMS: RFC 850 form, equal", .ims = "Tuesday, 14-Nov-23 22:13:20 GMT", NOT_MODIFIED},
    {"IMS: asctime form, equal", .ims = "Tue Nov 14 22:13:20 2023", NOT_MODIFIED},
    {"IMS: malformed date ignored", .ims = "Tue, 14 Nov 2023 25:13:20 GMT", .range = "bytes=0-9",
     PART(0, 9)},
    {"IMS: empty value ignored", .ims = "", FULL},
    {"IMS: date with junk after it ignored", .ims = D_AFTER "x", FULL},

    /* If-Match: strong comparison, first of all. */
    {"IM: our tag", .im = OURS, .range = "bytes=0-9", PART(0, 9)},
    {"IM: another tag", .im = OTHER, FAILED},
    {"IM: our tag, weak, fails strong comparison", .im = OURS_WEAK, FAILED},
    {"IM: *", .im = "*", .range = "bytes=-1", PART(999, 999)},
    {"IM: ours in a list with spaces", .im = "\"x\" , " OURS " ,", FULL},
    {"IM: list without ours", .im = "\"x\", " OTHER, FAILED},
    {"IM: empty list", .im = "", FAILED},
    {"IM: * with no etag", .no_etag = true, .im = "*", FULL},
    {"IM: a tag with no etag", .no_etag = true, .im = OURS, FAILED},
    {"IM mismatch wins over a matching INM", .im = OTHER, .inm = OURS, FAILED},
    {"IM match, then a matching INM", .im = OURS, .inm = OURS, NOT_MODIFIED},
    {"IM mismatch wins over a matching IMS", .im = OTHER, .ims = D_AFTER, FAILED},
    {"IM present: a failing IUS is ignored", .im = OURS, .ius = D_BEFORE, FULL},
    {"IM mismatch wins over an unsatisfiable range", .im = OTHER, .range = "bytes=5000-", FAILED},

    /* If-Unmodified-Since: 412 when mtime > date. */
    {"IUS: before mtime", .ius = D_BEFORE, FAILED},
    {"IUS: equal to mtime", .ius = D_EQUAL, FULL},
    {"IUS: after mtime", .ius = D_AFTER, .range = "bytes=10-19", PART(10, 19)},
    {"IUS: malformed date ignored", .ius = "yesterday", FULL},
    {"IUS failure wins over a matching INM", .ius = D_BEFORE, .inm = OURS, FAILED},
    {"IUS holds, then a matching IMS", .ius = D_AFTER, .ims = D_EQUAL, NOT_MODIFIED},

    /* Range. */
    {"range: first half", .range = "bytes=0-499", PART(0, 499)},
    {"range: the last byte", .range = "bytes=999-999", PART(999, 999)},
    {"range: open-ended from the last byte", .range = "bytes=999-", PART(999, 999)},
    {"range: suffix", .range = "bytes=-100", PART(900, 999)},
    {"range: suffix larger than the file", .range = "bytes=-5000", PART(0, 999)},
    {"range: last clamped to the end", .range = "bytes=500-5000", PART(500, 999)},
    {"range: first at the size", .range = "bytes=1000-", UNSATISFIABLE},
    {"range: past the end", .range = "bytes=2000-3000", UNSATISFIABLE},
    {"range: suffix of zero", .range = "bytes=-0", UNSATISFIABLE},
    {"range: several ranges get the whole file", .range = "bytes=0-1,5-6", FULL},
    {"range: one satisfiable among unsatisfiable", .range = "bytes=0-1,2000-", PART(0, 1)},
    {"range: malformed ignored", .range = "bytes=5-3", FULL},
    {"range: unknown unit ignored", .range = "items=0-1", FULL},
    {"range: empty file, open-ended", .zero_size = true, .range = "bytes=0-", UNSATISFIABLE},
    {"range: empty file, suffix", .zero_size = true, .range = "bytes=-1", UNSATISFIABLE},
    {"range: one-byte file, its byte", .size = 1, .range = "bytes=0-0", PART(0, 0)},
    {"range: 6 GiB file, across 4 GiB", .size = 6 * GIB, .range = "bytes=4294967295-4294967296",
     PART(4294967295ull, 4294967296ull)},
    {"range: 6 GiB file, suffix", .size = 6 * GIB, .range = "bytes=-2147483648",
     PART(4 * GIB, 6 * GIB - 1)},

    /* Conditions before Range. */
    {"INM match wins over a range", .inm = OURS, .range = "bytes=0-9", NOT_MODIFIED},
    {"INM match wins over an unsatisfiable range", .inm = "*", .range = "bytes=5000-",
     NOT_MODIFIED},
    {"INM mismatch, then a range", .inm = OTHER, .range = "bytes=0-9", PART(0, 9)},
    {"IMS match wins over a range", .ims = D_EQUAL, .range = "bytes=0-9", NOT_MODIFIED},
    {"IMS mismatch, then a range", .ims = D_BEFORE, .range = "bytes=0-9", PART(0, 9)},
    {"IM match, then an unsatisfiable range", .im = OURS, .range = "bytes=1000-", UNSATISFIABLE},

    /* If-Range. */
    {"IR: our tag", .ir = OURS, .range = "bytes=0-9", PART(0, 9)},
    {"IR: another tag", .ir = OTHER, .range = "bytes=0-9", FULL},
    {"IR: our tag, weak, never holds", .ir = OURS_WEAK, .range = "bytes=0-9", FULL},
    {"IR: our tag with junk", .ir = OURS "x", .range = "bytes=0-9", FULL},
    {"IR: a list is not a validator", .ir = OURS ", " OURS, .range = "bytes=0-9", FULL},
    {"IR: a tag with no etag", .no_etag = true, .ir = OURS, .range = "bytes=0-9", FULL},
    {"IR: date equal to mtime", .ir = D_EQUAL, .range = "bytes=0-9", PART(0, 9)},
    {"IR: date after mtime", .ir = D_AFTER, .range = "bytes=0-9", FULL},
    {"IR: date before mtime", .ir = D_BEFORE, .range = "bytes=0-9", FULL},
    {"IR: RFC 850 date equal", .ir = "Tuesday, 14-Nov-23 22:13:20 GMT", .range = "bytes=0-9",
     PART(0, 9)},
    {"IR: malformed date", .ir = "Tue, 14 Nov 2023 22:13 GMT", .range = "bytes=0-9", FULL},
    {"IR: empty value", .ir = "", .range = "bytes=0-9", FULL},
    {"IR: * is no validator", .ir = "*", .range = "bytes=0-9", FULL},
    {"IR mismatch: an unsatisfiable range is ignored too", .ir = OTHER, .range = "bytes=5000-",
     FULL},
    {"IR holds: an unsatisfiable range is 416", .ir = OURS, .range = "bytes=5000-",
     UNSATISFIABLE},
    {"IR holds, several ranges: whole file", .ir = D_EQUAL, .range = "bytes=0-1,3-4", FULL},
    {"IR mismatch on an empty file: 200, not 416", .zero_size = true, .ir = OTHER,
     .range = "bytes=0-", .status = COND_FULL, .first = 0, .last = 0, .length = 0},
};
/* clang-format on */

static struct http_str str(const char *s)
{
    return s == NULL ? (struct http_str){NULL, 0} : (struct http_str){s, strlen(s)};
}

/* A header value placed against a guard page, or absent. */
struct header {
    struct guard g;
    bool open;
};

static struct http_str header_put(struct header *h, const char *v)
{
    size_t len;

    h->open = false;
    if (v == NULL)
        return (struct http_str){NULL, 0};
    len = strlen(v);
    guard_open(&h->g, len);
    h->open = true;
    return (struct http_str){guard_put(&h->g, v, len), len};
}

static void header_close(struct header *h)
{
    if (h->open)
        guard_close(&h->g);
    h->open = false;
}

static uint64_t case_size(const struct cond_case *c)
{
    if (c->zero_size)
        return 0;
    return c->size != 0 ? c->size : 1000;
}

static void test_case(void **state)
{
    const struct cond_case *c = *state;
    struct header h[6];
    struct cond_file f = {.size = case_size(c), .mtime = MTIME, .etag = c->no_etag ? NULL : OURS};
    struct cond_request r = {
        .head = false,
        .if_match = header_put(&h[0], c->im),
        .if_unmodified_since = header_put(&h[1], c->ius),
        .if_none_match = header_put(&h[2], c->inm),
        .if_modified_since = header_put(&h[3], c->ims),
        .range = header_put(&h[4], c->range),
        .if_range = header_put(&h[5], c->ir),
    };

    for (int head = 0; head <= 1; head++) {
        struct cond_decision d = {.status = 999, .first = 12345, .last = 67890, .length = 4242};
        r.head = head;
        cond_decide(&f, &r, &d);
        if (d.status != c->status || d.first != c->first || d.last != c->last ||
            d.length != c->length)
            fail_msg("%s (%s): %d %" PRIu64 "-%" PRIu64 " length %" PRIu64 ", want %d %" PRIu64
                     "-%" PRIu64 " length %" PRIu64,
                     c->name, head ? "HEAD" : "GET", (int)d.status, d.first, d.last, d.length,
                     (int)c->status, c->first, c->last, c->length);
    }
    for (size_t i = 0; i < ARRAY_LEN(h); i++)
        header_close(&h[i]);
}

/* Every truncation of every header of every row, each placed against a
 * guard page: cond_decide reads nothing past a value, and whatever it
 * decides is coherent (a range within the file, no body for 304/412/416). */
static void test_truncations(void **state)
{
    struct guard g;

    guard_open(&g, 256);
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        const struct cond_case *c = &cases[i];
        const char *v[6] = {c->im, c->ius, c->inm, c->ims, c->range, c->ir};
        struct cond_file f = {
            .size = case_size(c), .mtime = MTIME, .etag = c->no_etag ? NULL : OURS};
        for (size_t h = 0; h < ARRAY_LEN(v); h++) {
            if (v[h] == NULL)
                continue;
            for (size_t k = 0; k <= strlen(v[h]); k++) {
                struct http_str s[6];
                for (size_t j = 0; j < ARRAY_LEN(v); j++)
                    s[j] = j == h ? (struct http_str){guard_put(&g, v[h], k), k} : str(v[j]);
                struct cond_request r = {.if_match = s[0],
                                         .if_unmodified_since = s[1],
                                         .if_none_match = s[2],
                                         .if_modified_since = s[3],
                                         .range = s[4],
                                         .if_range = s[5]};
                struct cond_decision d;
                cond_decide(&f, &r, &d);
                bool body = d.status == COND_FULL || d.status == COND_PARTIAL;
                bool ok =
                    body ? d.first <= d.last &&
                               (f.size == 0 ? d.length == 0 && d.last == 0
                                            : d.last < f.size && d.length == d.last - d.first + 1)
                         : (d.status == COND_NOT_MODIFIED || d.status == COND_PRECONDITION_FAILED ||
                            d.status == COND_UNSATISFIABLE) &&
                               d.first == 0 && d.last == 0 && d.length == 0;
                if (!ok || (d.status == COND_FULL && d.length != f.size))
                    fail_msg("%s, header %zu cut to %zu bytes: %d %" PRIu64 "-%" PRIu64
                             " length %" PRIu64,
                             c->name, h, k, (int)d.status, d.first, d.last, d.length);
            }
        }
    }
    guard_close(&g);
}

/* ---- cond_etag -------------------------------------------------------- */

struct etag_case {
    const char *name;
    uint64_t ino, size, mtime_ns;
    size_t outsz;
    const char *want; /* "" when it must not fit */
};

/* clang-format off */
static const struct etag_case etag_cases[] = {
    {"the rows' file", 0x2a, 1000, MTIME_NS, COND_ETAG_SIZE, OURS},
    {"zeros", 0, 0, 0, COND_ETAG_SIZE, "\"0-0-0\""},
    {"no leading zeros, lower case", 0xABC, 0x10, 0xdeadbeef, COND_ETAG_SIZE,
     "\"abc-10-deadbeef\""},
    {"largest", UINT64_MAX, UINT64_MAX, UINT64_MAX, COND_ETAG_SIZE,
     "\"ffffffffffffffff-ffffffffffffffff-ffffffffffffffff\""},
    {"largest, exactly fits", UINT64_MAX, UINT64_MAX, UINT64_MAX, 53,
     "\"ffffffffffffffff-ffffffffffffffff-ffffffffffffffff\""},
    {"largest, one byte short", UINT64_MAX, UINT64_MAX, UINT64_MAX, 52, ""},
    {"small, exactly fits", 0, 0, 0, 8, "\"0-0-0\""},
    {"small, one byte short", 0, 0, 0, 7, ""},
};
/* clang-format on */

static void test_etag(void **state)
{
    const struct etag_case *c = *state;
    char out[128];

    memset(out, 'Z', sizeof out);
    size_t n = cond_etag(c->ino, c->size, c->mtime_ns, out, c->outsz);
    if (n != strlen(c->want) || strcmp(out, c->want) != 0)
        fail_msg("%s: %zu \"%s\", want %zu \"%s\"", c->name, n, out, strlen(c->want), c->want);
    if (out[c->outsz] != 'Z')
        fail_msg("%s: wrote past outsz", c->name);
}

/* The format is the one fileserver.c wrote inline: the same snprintf. */
static void test_etag_legacy_format(void **state)
{
    static const uint64_t v[] = {0, 1, 9, 10, 0xf, 0x10, 123456789, 1ull << 32, UINT64_MAX};
    char want[80], got[COND_ETAG_SIZE];

    for (size_t i = 0; i < ARRAY_LEN(v); i++)
        for (size_t j = 0; j < ARRAY_LEN(v); j++) {
            snprintf(want, sizeof want, "\"%" PRIx64 "-%" PRIx64 "-%" PRIx64 "\"", v[i], v[j],
                     v[ARRAY_LEN(v) - 1 - i]);
            size_t n = cond_etag(v[i], v[j], v[ARRAY_LEN(v) - 1 - i], got, sizeof got);
            assert_int_equal(n, strlen(want));
            assert_string_equal(got, want);
        }
}

/* ---- cond_content_range ----------------------------------------------- */

struct crange_case {
    const char *name;
    struct cond_decision d;
    uint64_t size;
    size_t outsz;
    const char *want;
};

/* clang-format off */
static const struct crange_case crange_cases[] = {
    {"206", {COND_PARTIAL, 0, 499, 500}, 1000, COND_CONTENT_RANGE_SIZE, "bytes 0-499/1000"},
    {"206 of the last byte", {COND_PARTIAL, 999, 999, 1}, 1000, COND_CONTENT_RANGE_SIZE,
     "bytes 999-999/1000"},
    {"416", {COND_UNSATISFIABLE, 0, 0, 0}, 1000, COND_CONTENT_RANGE_SIZE, "bytes */1000"},
    {"416 of an empty file", {COND_UNSATISFIABLE, 0, 0, 0}, 0, COND_CONTENT_RANGE_SIZE,
     "bytes */0"},
    {"largest 206", {COND_PARTIAL, UINT64_MAX - 1, UINT64_MAX - 1, 1}, UINT64_MAX,
     COND_CONTENT_RANGE_SIZE,
     "bytes 18446744073709551614-18446744073709551614/18446744073709551615"},
    {"200 has none", {COND_FULL, 0, 999, 1000}, 1000, COND_CONTENT_RANGE_SIZE, ""},
    {"304 has none", {COND_NOT_MODIFIED, 0, 0, 0}, 1000, COND_CONTENT_RANGE_SIZE, ""},
    {"412 has none", {COND_PRECONDITION_FAILED, 0, 0, 0}, 1000, COND_CONTENT_RANGE_SIZE, ""},
    {"206, exactly fits", {COND_PARTIAL, 0, 1, 2}, 10, 13, "bytes 0-1/10"},
    {"206, one byte short", {COND_PARTIAL, 0, 1, 2}, 10, 12, ""},
};
/* clang-format on */

static void test_crange(void **state)
{
    const struct crange_case *c = *state;
    char out[128];

    memset(out, 'Z', sizeof out);
    size_t n = cond_content_range(&c->d, c->size, out, c->outsz);
    if (n != strlen(c->want) || strcmp(out, c->want) != 0)
        fail_msg("%s: %zu \"%s\", want %zu \"%s\"", c->name, n, out, strlen(c->want), c->want);
    if (out[c->outsz] != 'Z')
        fail_msg("%s: wrote past outsz", c->name);
}

/* ---- the decision fileserver.c made before cond ------------------------ */

/* etag_listed, if_range_holds and the decision in serve_file, as they were
 * in src/serve/fileserver.c when this module was written (commit 037e126). */
static bool legacy_etag_listed(struct http_str list, const char *etag)
{
    size_t elen = strlen(etag), i = 0;

    while (i < list.len) {
        while (i < list.len && (list.p[i] == ' ' || list.p[i] == '\t' || list.p[i] == ','))
            i++;
        if (i < list.len && list.p[i] == '*')
            return true;
        if (i + 2 <= list.len && list.p[i] == 'W' && list.p[i + 1] == '/')
            i += 2;
        size_t start = i;
        while (i < list.len && list.p[i] != ',')
            i++;
        size_t end = i;
        while (end > start && (list.p[end - 1] == ' ' || list.p[end - 1] == '\t'))
            end--;
        if (end - start == elen && memcmp(list.p + start, etag, elen) == 0)
            return true;
    }
    return false;
}

static bool legacy_if_range_holds(struct http_str v, const char *etag, time_t mtime)
{
    time_t t;

    if (v.len > 0 && v.p[0] == '"')
        return v.len == strlen(etag) && memcmp(v.p, etag, v.len) == 0;
    return httpdate_parse(v.p, v.len, &t) == 0 && t == mtime;
}

static void legacy_decide(const struct cond_file *f, const struct cond_request *r,
                          struct cond_decision *d)
{
    uint64_t size = f->size, first = 0, last = size ? size - 1 : 0;
    time_t ims;

    if (r->if_none_match.p != NULL
            ? legacy_etag_listed(r->if_none_match, f->etag)
            : (r->if_modified_since.p != NULL &&
               httpdate_parse(r->if_modified_since.p, r->if_modified_since.len, &ims) == 0 &&
               f->mtime <= ims)) {
        *d = (struct cond_decision){COND_NOT_MODIFIED, 0, 0, 0};
        return;
    }
    d->status = COND_FULL;
    if (r->range.p != NULL &&
        (r->if_range.p == NULL || legacy_if_range_holds(r->if_range, f->etag, f->mtime))) {
        struct range rg;
        switch (range_parse(r->range.p, r->range.len, size, &rg)) {
        case RANGE_ONE:
            first = rg.first;
            last = rg.last;
            d->status = COND_PARTIAL;
            break;
        case RANGE_UNSATISFIABLE:
            *d = (struct cond_decision){COND_UNSATISFIABLE, 0, 0, 0};
            return;
        case RANGE_NONE:
        case RANGE_MANY:
            break;
        }
    }
    d->first = first;
    d->last = last;
    d->length = size ? last - first + 1 : 0;
}

/* Every combination of these values for the headers fileserver already
 * read gets the same decision from cond_decide as from the old code. */
static void test_same_as_fileserver(void **state)
{
    /* clang-format off */
    static const char *inm[] = {NULL, "", OURS, OURS_WEAK, OTHER, "*", "\"x\", " OURS " ,",
                                "\"x\",\tW/\"y\"", OURS " x", "w/" OURS, ",,", "\"a,b\", " OURS,
                                "\"a," OURS, "*x", "\"x\", *\"y\""};
    static const char *ims[] = {NULL, "", D_BEFORE, D_EQUAL, D_AFTER, "not a date",
                                "Tuesday, 14-Nov-23 22:13:20 GMT"};
    static const char *range[] = {NULL,        "",           "bytes=0-499",  "bytes=-1",
                                  "bytes=0-",  "bytes=999-", "bytes=2000-",  "bytes=0-1,3-4",
                                  "bytes=x",   "bytes=-0",   "items=0-1",    "bytes=0-0,5000-"};
    static const char *ir[] = {NULL,    "",       OURS,     OURS_WEAK, OTHER, D_EQUAL,
                               D_AFTER, D_BEFORE, "junk",   OURS "x"};
    static const uint64_t sizes[] = {0, 1, 1000, 6 * GIB};
    /* clang-format on */
    size_t n = 0;

    for (size_t a = 0; a < ARRAY_LEN(inm); a++)
        for (size_t b = 0; b < ARRAY_LEN(ims); b++)
            for (size_t c = 0; c < ARRAY_LEN(range); c++)
                for (size_t e = 0; e < ARRAY_LEN(ir); e++)
                    for (size_t s = 0; s < ARRAY_LEN(sizes); s++) {
                        struct cond_file f = {.size = sizes[s], .mtime = MTIME, .etag = OURS};
                        struct cond_request r = {.if_none_match = str(inm[a]),
                                                 .if_modified_since = str(ims[b]),
                                                 .range = str(range[c]),
                                                 .if_range = str(ir[e])};
                        struct cond_decision got, want;
                        cond_decide(&f, &r, &got);
                        legacy_decide(&f, &r, &want);
                        if (got.status != want.status || got.first != want.first ||
                            got.last != want.last || got.length != want.length)
                            fail_msg("INM %s, IMS %s, Range %s, If-Range %s, size %" PRIu64
                                     ": %d %" PRIu64 "-%" PRIu64 "/%" PRIu64 ", before %d %" PRIu64
                                     "-%" PRIu64 "/%" PRIu64,
                                     inm[a] ? inm[a] : "-", ims[b] ? ims[b] : "-",
                                     range[c] ? range[c] : "-", ir[e] ? ir[e] : "-", sizes[s],
                                     (int)got.status, got.first, got.last, got.length,
                                     (int)want.status, want.first, want.last, want.length);
                        n++;
                    }
    assert_true(n > 10000);
}

/* Lists made of random pieces get the same If-None-Match answer from
 * cond_decide as from the old code. */
static void test_random_lists(void **state)
{
    static const char *pieces[] = {OURS, OURS_WEAK, OTHER, ",",  " ",    "\t",   "*",     "W/",
                                   "w/", "\"",      "a",   "x,", "\"a,", "\"\"", OURS ","};
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    char list[512];

    for (int k = 0; k < 50000; k++) {
        size_t len = 0;
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        size_t count = (size_t)(seed >> 60);
        for (size_t j = 0; j < count; j++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            const char *p = pieces[(seed >> 33) % ARRAY_LEN(pieces)];
            size_t plen = strlen(p);
            memcpy(list + len, p, plen);
            len += plen;
        }
        list[len] = '\0';
        struct cond_file f = {.size = 1000, .mtime = MTIME, .etag = OURS};
        struct cond_request r = {.if_none_match = {list, len}};
        struct cond_decision got, want;
        cond_decide(&f, &r, &got);
        legacy_decide(&f, &r, &want);
        if (got.status != want.status)
            fail_msg("If-None-Match [%s]: %d, before %d", list, (int)got.status, (int)want.status);
    }
}

/* The rows' expectations for rows without If-Match and If-Unmodified-Since
 * agree with the old code too, so the table and the differential check keep
 * each other honest. */
static void test_rows_agree_with_fileserver(void **state)
{
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        const struct cond_case *c = &cases[i];
        if (c->im != NULL || c->ius != NULL || c->no_etag)
            continue;
        struct cond_file f = {.size = case_size(c), .mtime = MTIME, .etag = OURS};
        struct cond_request r = {.if_none_match = str(c->inm),
                                 .if_modified_since = str(c->ims),
                                 .range = str(c->range),
                                 .if_range = str(c->ir)};
        struct cond_decision want;
        legacy_decide(&f, &r, &want);
        if (want.status != c->status || want.first != c->first || want.last != c->last ||
            want.length != c->length)
            fail_msg("%s: the old code said %d %" PRIu64 "-%" PRIu64 "/%" PRIu64, c->name,
                     (int)want.status, want.first, want.last, want.length);
    }
}

int main(void)
{
    static struct unit_list l;

    UNIT_ADD_ROWS(&l, cases, test_case);
    unit_add(&l, "every truncation of every header", test_truncations, NULL);
    UNIT_ADD_ROWS(&l, etag_cases, test_etag);
    unit_add(&l, "etag: the format fileserver wrote", test_etag_legacy_format, NULL);
    UNIT_ADD_ROWS(&l, crange_cases, test_crange);
    unit_add(&l, "same decisions as fileserver before cond", test_same_as_fileserver, NULL);
    unit_add(&l, "random If-None-Match lists as fileserver before cond", test_random_lists, NULL);
    unit_add(&l, "rows agree with fileserver before cond", test_rows_agree_with_fileserver, NULL);
    return unit_run("cond", &l);
}
