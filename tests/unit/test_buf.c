/* Unit tests for core/buf: appending, consuming, reserving, growth up to
 * the cap, formatted output, and fixed buffers over the caller's storage
 * (run under SANITIZE=1, a buf_free that freed stack storage aborts). */
#include "unit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/buf.h"

/* Fails unless b holds exactly want[0..wlen) and keeps its invariants. */
static void check_buf(const char *what, const struct buf *b, const char *want, size_t wlen)
{
    if (b->rpos > b->wpos || b->wpos > b->cap || b->cap > b->max)
        fail_msg("%s: rpos %zu wpos %zu cap %zu max %zu", what, b->rpos, b->wpos, b->cap, b->max);
    if (buf_len(b) != wlen || (wlen > 0 && memcmp(buf_rptr(b), want, wlen) != 0))
        fail_msg("%s: holds %zu bytes \"%.*s\", want %zu \"%.*s\"", what, buf_len(b),
                 (int)buf_len(b), buf_len(b) ? buf_rptr(b) : "", wlen, (int)wlen, want);
}

static void test_init(void **state)
{
    struct buf b;

    memset(&b, 0x5a, sizeof b);
    buf_init(&b, 100);
    assert_null(b.data);
    assert_int_equal(b.cap, 0);
    assert_int_equal(b.max, 100);
    assert_int_equal(buf_len(&b), 0);
    assert_int_equal(buf_room(&b), 0);
    buf_free(&b);
    assert_int_equal(b.max, 100);
}

static void test_append_consume(void **state)
{
    struct buf b;

    buf_init(&b, 1024);
    assert_int_equal(buf_append(&b, "hello", 5), 0);
    check_buf("hello", &b, "hello", 5);
    assert_int_equal(buf_puts(&b, ", world"), 0);
    check_buf("hello, world", &b, "hello, world", 12);
    buf_consume(&b, 7);
    check_buf("consumed 7", &b, "world", 5);
    assert_int_equal(b.rpos, 7);
    assert_int_equal(buf_append(&b, "!", 1), 0);
    check_buf("appended after consume", &b, "world!", 6);
    buf_consume(&b, 6);
    check_buf("consumed all", &b, "", 0);
    assert_int_equal(b.rpos, 0); /* an emptied buffer rewinds */
    assert_int_equal(b.wpos, 0);
    assert_int_equal(buf_append(&b, "again", 5), 0);
    check_buf("after rewind", &b, "again", 5);
    buf_free(&b);
    check_buf("freed", &b, "", 0);
    assert_null(b.data);
    assert_int_equal(buf_puts(&b, "reused"), 0);
    check_buf("reused", &b, "reused", 6);
    buf_free(&b);
}

/* Appending nothing is not an error, even to a buffer with no storage. */
static void test_append_nothing(void **state)
{
    struct buf b;

    buf_init(&b, 16);
    assert_int_equal(buf_append(&b, "", 0), 0);
    assert_int_equal(buf_puts(&b, ""), 0);
    check_buf("nothing", &b, "", 0);
    buf_free(&b);
}

static void test_reserve_commit(void **state)
{
    struct buf b;

    buf_init(&b, 4096);
    char *p = buf_reserve(&b, 10);
    assert_non_null(p);
    assert_true(buf_room(&b) >= 10);
    memcpy(p, "0123456789", 10);
    buf_commit(&b, 10);
    check_buf("committed", &b, "0123456789", 10);
    /* Committing less than reserved. */
    p = buf_reserve(&b, 100);
    assert_non_null(p);
    assert_true(p == b.data + b.wpos);
    memcpy(p, "ab", 2);
    buf_commit(&b, 2);
    check_buf("short commit", &b, "0123456789ab", 12);
    buf_free(&b);
}

/* When the unread bytes sit at the back, a reserve moves them to the front
 * instead of growing past the cap. */
static void test_reserve_moves(void **state)
{
    struct buf b;
    char full[64];

    for (size_t i = 0; i < sizeof full; i++)
        full[i] = (char)('A' + i % 26);
    buf_init(&b, sizeof full);
    assert_int_equal(buf_append(&b, full, sizeof full), 0);
    buf_consume(&b, 60);
    check_buf("tail", &b, full + 60, 4);
    char *p = buf_reserve(&b, 60);
    assert_non_null(p);
    assert_int_equal(b.rpos, 0);
    assert_int_equal(b.cap, sizeof full);
    check_buf("moved", &b, full + 60, 4);
    assert_true(p == b.data + 4);
    assert_null(buf_reserve(&b, 61));
    check_buf("after refused reserve", &b, full + 60, 4);
    buf_free(&b);
}

static void test_reserve_limits(void **state)
{
    struct buf b;

    buf_init(&b, 100);
    assert_null(buf_reserve(&b, 101));
    assert_null(buf_reserve(&b, SIZE_MAX));
    assert_null(buf_reserve(&b, SIZE_MAX - 10));
    assert_non_null(buf_reserve(&b, 100));
    assert_true(b.cap <= 100);
    assert_int_equal(buf_append(&b, "x", 1), 0);
    assert_null(buf_reserve(&b, 100));
    assert_null(buf_reserve(&b, SIZE_MAX));
    check_buf("x", &b, "x", 1);
    buf_free(&b);
}

struct growth_case {
    const char *name;
    size_t max, chunk;
};

static const struct growth_case growth_cases[] = {
    {"growth: max 1, bytes one by one", 1, 1},
    {"growth: max 10, bytes one by one", 10, 1},
    {"growth: max 255, bytes one by one", 255, 1},
    {"growth: max 256, bytes one by one", 256, 1},
    {"growth: max 257, bytes one by one", 257, 1},
    {"growth: max 1000, chunks of 7", 1000, 7},
    {"growth: max 4096, chunks of 256", 4096, 256},
    {"growth: max 65536, chunks of 1000", 65536, 1000},
    {"growth: max 100000, chunks of 4096", 100000, 4096},
    {"growth: max 1000, one chunk of 1000", 1000, 1000},
};

/* Fills a buffer in chunks up to exactly max; then any more is -ENOBUFS
 * and leaves the contents as they were. */
static void test_growth(void **state)
{
    const struct growth_case *c = *state;
    char *want = malloc(c->max + c->chunk);
    size_t len = 0;
    struct buf b;

    assert_non_null(want);
    for (size_t i = 0; i < c->max + c->chunk; i++)
        want[i] = (char)(i * 7 + 3);
    buf_init(&b, c->max);
    while (len < c->max) {
        size_t n = c->max - len < c->chunk ? c->max - len : c->chunk;
        if (buf_append(&b, want + len, n) != 0)
            fail_msg("%s: append of %zu at %zu failed", c->name, n, len);
        len += n;
        if (b.cap > c->max)
            fail_msg("%s: cap %zu past max", c->name, b.cap);
    }
    check_buf(c->name, &b, want, c->max);
    if (buf_append(&b, want + len, 1) != -ENOBUFS)
        fail_msg("%s: one byte past max was not -ENOBUFS", c->name);
    if (buf_append(&b, want + len, c->chunk) != -ENOBUFS)
        fail_msg("%s: a chunk past max was not -ENOBUFS", c->name);
    check_buf(c->name, &b, want, c->max);
    /* Consuming one byte makes room for exactly one. */
    buf_consume(&b, 1);
    assert_int_equal(buf_append(&b, want + len, 1), 0);
    assert_int_equal(buf_append(&b, want + len, 1), -ENOBUFS);
    check_buf(c->name, &b, want + 1, c->max);
    buf_free(&b);
    free(want);
}

/* One append larger than max fails whole, leaving what was there. */
static void test_append_too_big(void **state)
{
    static char big[300];
    struct buf b;

    buf_init(&b, 256);
    assert_int_equal(buf_append(&b, "abc", 3), 0);
    assert_int_equal(buf_append(&b, big, 254), -ENOBUFS);
    assert_int_equal(buf_append(&b, big, sizeof big), -ENOBUFS);
    assert_int_equal(buf_append(&b, big, SIZE_MAX), -ENOBUFS);
    check_buf("abc", &b, "abc", 3);
    assert_int_equal(buf_append(&b, big, 253), 0);
    assert_int_equal(buf_len(&b), 256);
    buf_free(&b);
}

static void test_printf(void **state)
{
    struct buf b;

    buf_init(&b, 4096);
    assert_int_equal(buf_printf(&b, "%d-%s-%c", 42, "x", 'y'), 0);
    check_buf("format", &b, "42-x-y", 6);
    assert_int_equal(buf_printf(&b, "%s", ""), 0);
    check_buf("empty format", &b, "42-x-y", 6);
    /* Longer than any room there is: the buffer grows. */
    assert_int_equal(buf_printf(&b, "%0500d", 7), 0);
    assert_int_equal(buf_len(&b), 506);
    assert_int_equal(buf_rptr(&b)[505], '7');
    assert_int_equal(buf_rptr(&b)[6], '0');
    /* After a consume, a printf that needs the unread bytes moved. */
    buf_consume(&b, 500);
    check_buf("after consume", &b, "000007", 6);
    assert_int_equal(buf_printf(&b, "<%s>", "tail"), 0);
    check_buf("after consume and printf", &b, "000007<tail>", 12);
    buf_free(&b);
}

static void test_printf_past_max(void **state)
{
    struct buf b;

    buf_init(&b, 16);
    assert_int_equal(buf_printf(&b, "%s", "0123456789"), 0);
    assert_int_equal(buf_printf(&b, "%s", "abcdefghij"), -ENOBUFS);
    check_buf("unchanged", &b, "0123456789", 10);
    buf_free(&b);
}

/* Text that fills the buffer to exactly max fits: max counts the bytes
 * held, and a formatted append is an append. */
static void test_printf_to_max(void **state)
{
    struct buf b;

    buf_init(&b, 16);
    assert_int_equal(buf_append(&b, "0123456789abcdef", 16), 0);
    buf_free(&b);

    buf_init(&b, 16);
    assert_int_equal(buf_printf(&b, "%s", "0123456789abcdef"), 0);
    check_buf("16 of 16 by printf", &b, "0123456789abcdef", 16);
    buf_free(&b);

    buf_init(&b, 16);
    assert_int_equal(buf_puts(&b, "0123456789"), 0);
    assert_int_equal(buf_printf(&b, "%s", "abcdef"), 0);
    check_buf("10 + 6 of 16 by printf", &b, "0123456789abcdef", 16);
    buf_free(&b);
}

static int call_vprintf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int call_vprintf(struct buf *b, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    int rc = buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

/* buf_vprintf may need the arguments twice (measure, then write). */
static void test_vprintf(void **state)
{
    struct buf b;

    buf_init(&b, 1 << 16);
    assert_int_equal(call_vprintf(&b, "%s=%d;", "a", 1), 0);
    assert_int_equal(call_vprintf(&b, "%s=%0300d;", "b", 2), 0);
    assert_int_equal(buf_len(&b), 4 + 303);
    assert_memory_equal(buf_rptr(&b), "a=1;b=000", 9);
    assert_memory_equal(buf_rptr(&b) + 4 + 301, "2;", 2);
    buf_free(&b);
}

/* ---- fixed buffers --------------------------------------------------- */

static void test_fixed_init(void **state)
{
    char storage[32];
    struct buf b;

    memset(&b, 0x5a, sizeof b);
    buf_init_fixed(&b, storage, sizeof storage);
    assert_ptr_equal(b.data, storage);
    assert_int_equal(b.cap, sizeof storage);
    assert_int_equal(b.max, sizeof storage);
    assert_true(b.fixed);
    assert_int_equal(buf_len(&b), 0);
    assert_int_equal(buf_room(&b), sizeof storage);
    check_buf("fixed, empty", &b, "", 0);
}

/* Filling to exactly size works; past it, reserve is NULL and append,
 * puts and printf are -ENOBUFS, leaving the contents and the storage. */
static void test_fixed_never_grows(void **state)
{
    char storage[16];
    struct buf b;

    buf_init_fixed(&b, storage, sizeof storage);
    assert_null(buf_reserve(&b, sizeof storage + 1));
    assert_null(buf_reserve(&b, SIZE_MAX));
    assert_int_equal(buf_append(&b, "0123456789", 10), 0);
    assert_int_equal(buf_append(&b, "abcdefg", 7), -ENOBUFS);
    assert_int_equal(buf_puts(&b, "abcdefg"), -ENOBUFS);
    assert_int_equal(buf_printf(&b, "%s", "abcdefg"), -ENOBUFS);
    assert_null(buf_reserve(&b, 7));
    check_buf("10 of 16", &b, "0123456789", 10);
    assert_int_equal(buf_printf(&b, "%s", "abcdef"), 0);
    check_buf("16 of 16", &b, "0123456789abcdef", 16);
    assert_null(buf_reserve(&b, 1));
    assert_int_equal(buf_append(&b, "x", 1), -ENOBUFS);
    assert_int_equal(buf_append(&b, "", 0), 0);
    check_buf("full", &b, "0123456789abcdef", 16);
    assert_ptr_equal(b.data, storage);
    assert_int_equal(b.cap, sizeof storage);
    assert_memory_equal(storage, "0123456789abcdef", 16);
}

/* Consuming everything rewinds to the start of the storage; a reserve that
 * needs it moves the unread bytes to the front, within the storage. */
static void test_fixed_consume_rewinds(void **state)
{
    char storage[16];
    struct buf b;

    buf_init_fixed(&b, storage, sizeof storage);
    assert_int_equal(buf_append(&b, "0123456789abcdef", 16), 0);
    buf_consume(&b, 16);
    assert_int_equal(b.rpos, 0);
    assert_int_equal(b.wpos, 0);
    assert_int_equal(buf_room(&b), sizeof storage);
    assert_int_equal(buf_append(&b, "again", 5), 0);
    assert_memory_equal(storage, "again", 5);

    buf_consume(&b, 3);
    check_buf("tail", &b, "in", 2);
    char *p = buf_reserve(&b, 14);
    assert_ptr_equal(p, storage + 2);
    assert_int_equal(b.rpos, 0);
    assert_ptr_equal(b.data, storage);
    assert_memory_equal(storage, "in", 2);
    assert_null(buf_reserve(&b, 15));
    memcpy(p, "0123456789abcd", 14);
    buf_commit(&b, 14);
    check_buf("refilled", &b, "in0123456789abcd", 16);
}

/* buf_free empties a fixed buffer but neither frees nor forgets its
 * storage, which is on the stack here; the buffer can be used again. */
static void test_fixed_free_leaves_storage(void **state)
{
    char storage[8];
    struct buf b;

    buf_init_fixed(&b, storage, sizeof storage);
    assert_int_equal(buf_puts(&b, "abc"), 0);
    buf_free(&b);
    assert_ptr_equal(b.data, storage);
    assert_true(b.fixed);
    assert_int_equal(b.cap, sizeof storage);
    check_buf("freed", &b, "", 0);
    assert_memory_equal(storage, "abc", 3); /* left alone */
    assert_int_equal(buf_puts(&b, "12345678"), 0);
    assert_int_equal(buf_puts(&b, "9"), -ENOBUFS);
    check_buf("reused", &b, "12345678", 8);
    buf_free(&b);
    buf_free(&b);
    check_buf("freed twice", &b, "", 0);
}

/* The file server's pool shape: the struct and its bytes in one block. The
 * owner frees the block; buf_free must not have freed it first. */
static void test_fixed_in_one_block(void **state)
{
    struct buf *b = malloc(sizeof *b + 64);

    assert_non_null(b);
    buf_init_fixed(b, b + 1, 64);
    assert_int_equal(buf_printf(b, "%064d", 1), 0);
    assert_int_equal(buf_len(b), 64);
    assert_int_equal(buf_append(b, "x", 1), -ENOBUFS);
    buf_free(b);
    assert_ptr_equal(b->data, (char *)(b + 1));
    free(b);
}

/* Size 0: nothing fits, nothing is an error. */
static void test_fixed_empty_storage(void **state)
{
    char storage[1];
    struct buf b;

    buf_init_fixed(&b, storage, 0);
    assert_int_equal(buf_append(&b, "", 0), 0);
    assert_int_equal(buf_append(&b, "x", 1), -ENOBUFS);
    assert_int_equal(buf_printf(&b, "%d", 1), -ENOBUFS);
    assert_null(buf_reserve(&b, 1));
    check_buf("size 0", &b, "", 0);
    buf_free(&b);
}

/* buf_init turns a fixed buffer back into an ordinary one. */
static void test_fixed_then_init(void **state)
{
    char storage[4];
    struct buf b;

    buf_init_fixed(&b, storage, sizeof storage);
    buf_init(&b, 100);
    assert_false(b.fixed);
    assert_null(b.data);
    assert_int_equal(buf_puts(&b, "longer than four"), 0);
    check_buf("ordinary", &b, "longer than four", 16);
    buf_free(&b);
}

int main(void)
{
    static struct unit_list l;

    unit_add(&l, "init and free", test_init, NULL);
    unit_add(&l, "append and consume", test_append_consume, NULL);
    unit_add(&l, "append of nothing to an empty buffer", test_append_nothing, NULL);
    unit_add(&l, "reserve and commit", test_reserve_commit, NULL);
    unit_add(&l, "reserve moves unread bytes to the front", test_reserve_moves, NULL);
    unit_add(&l, "reserve past max and size overflow", test_reserve_limits, NULL);
    UNIT_ADD_ROWS(&l, growth_cases, test_growth);
    unit_add(&l, "append larger than the room", test_append_too_big, NULL);
    unit_add(&l, "printf", test_printf, NULL);
    unit_add(&l, "printf past max", test_printf_past_max, NULL);
    unit_add(&l, "printf filling the buffer to exactly max", test_printf_to_max, NULL);
    unit_add(&l, "vprintf", test_vprintf, NULL);
    unit_add(&l, "fixed: init over storage", test_fixed_init, NULL);
    unit_add(&l, "fixed: never grows past size (NULL, -ENOBUFS)", test_fixed_never_grows, NULL);
    unit_add(&l, "fixed: consume rewinds, reserve moves within storage",
             test_fixed_consume_rewinds, NULL);
    unit_add(&l, "fixed: buf_free leaves stack storage alone", test_fixed_free_leaves_storage,
             NULL);
    unit_add(&l, "fixed: struct and storage in one malloc'd block", test_fixed_in_one_block, NULL);
    unit_add(&l, "fixed: size 0", test_fixed_empty_storage, NULL);
    unit_add(&l, "fixed: buf_init makes it ordinary again", test_fixed_then_init, NULL);
    return unit_run("buf", &l);
}
