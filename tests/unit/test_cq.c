/* Unit tests for net/cq: shared chunks and the queue of ranges (pure, no
 * I/O): merging, reference counts, the byte cap, partial consumption at
 * every offset, copies that never touch a shared chunk. */
#include "unit.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/uio.h>

#include "net/cq.h"

static struct cq_chunk *chunk_of(const char *s)
{
    struct cq_chunk *c = cq_chunk_new(strlen(s) + 16);

    assert_non_null(c);
    assert_int_equal(cq_chunk_put(c, s, strlen(s)), 0);
    return c;
}

/* What the queue would send, flattened. */
static size_t flatten(const struct cq *q, char *out, size_t max)
{
    struct iovec iov[64];
    int k = cq_iov(q, iov, 64);
    size_t n = 0;

    for (int i = 0; i < k; i++) {
        assert_true(n + iov[i].iov_len <= max);
        memcpy(out + n, iov[i].iov_base, iov[i].iov_len);
        n += iov[i].iov_len;
    }
    return n;
}

/* Consecutive ranges of one chunk are one entry (one iovec) and one
 * reference; a gap or another chunk starts a new entry. */
static void test_push_merges(void **state)
{
    struct cq_chunk *c = chunk_of("alpha;beta;gamma;");
    struct cq q;
    char out[64];
    (void)state;

    cq_init(&q, 1024);
    assert_int_equal(cq_push(&q, c, 0, 6), 0);
    assert_int_equal(cq_push(&q, c, 6, 5), 0);
    assert_int_equal(q.n, 1);
    assert_int_equal(c->refs, 2);
    assert_int_equal(cq_push(&q, c, 12, 5), 0); /* skips "g": a gap */
    assert_int_equal(q.n, 2);
    assert_int_equal(c->refs, 3);
    assert_int_equal(cq_len(&q), 16);
    size_t n = flatten(&q, out, sizeof out);
    assert_int_equal(n, 16);
    assert_memory_equal(out, "alpha;beta;amma;", 16);
    assert_int_equal(cq_push(&q, c, 3, 0), 0); /* nothing */
    assert_int_equal(q.n, 2);
    cq_free(&q);
    assert_int_equal(c->refs, 1);
    assert_null(q.ents);
    cq_chunk_unref(c);
}

/* One chunk in three queues: each queue's consumption releases its own
 * reference only, at the moment its last byte of that chunk goes. */
static void test_refcount_release(void **state)
{
    struct cq_chunk *c = chunk_of("line one\nline two\n");
    struct cq q[3];
    (void)state;

    for (int i = 0; i < 3; i++) {
        cq_init(&q[i], 1024);
        assert_int_equal(cq_push(&q[i], c, 0, c->len), 0);
    }
    assert_int_equal(c->refs, 4);
    cq_consume(&q[0], 5);
    assert_int_equal(c->refs, 4); /* part of it still queued */
    cq_consume(&q[0], c->len - 5);
    assert_int_equal(c->refs, 3);
    assert_null(q[0].ents); /* an empty queue holds no memory */
    cq_consume(&q[1], c->len);
    assert_int_equal(c->refs, 2);
    cq_free(&q[2]);
    assert_int_equal(c->refs, 1);
    cq_chunk_unref(c); /* the last: freed (ASan would see a leak otherwise) */
}

/* The cap counts queued bytes: a push or append that would pass it is
 * -ENOBUFS and queues nothing; what fits exactly is taken; consuming makes
 * room again. */
static void test_cap_accounting(void **state)
{
    struct cq_chunk *c = chunk_of("0123456789");
    struct cq q;
    (void)state;

    cq_init(&q, 16);
    assert_int_equal(cq_push(&q, c, 0, 10), 0);
    assert_int_equal(cq_push(&q, c, 0, 7), -ENOBUFS);
    assert_int_equal(cq_len(&q), 10);
    assert_int_equal(c->refs, 2);
    assert_int_equal(cq_append(&q, "abcdefg", 7), -ENOBUFS);
    assert_int_equal(cq_len(&q), 10);
    assert_int_equal(q.n, 1);
    assert_int_equal(cq_append(&q, "abcdef", 6), 0); /* exactly to the cap */
    assert_int_equal(cq_len(&q), 16);
    assert_int_equal(cq_append(&q, "x", 1), -ENOBUFS);
    cq_consume(&q, 3);
    assert_int_equal(cq_len(&q), 13);
    assert_int_equal(cq_push(&q, c, 0, 3), 0);
    assert_int_equal(cq_len(&q), 16);
    char out[32];
    assert_int_equal(flatten(&q, out, sizeof out), 16);
    assert_memory_equal(out, "3456789abcdef012", 16);
    cq_free(&q);
    assert_int_equal(c->refs, 1);
    cq_chunk_unref(c);
}

/* A copy never goes into a chunk another holder shares: the shared bytes
 * and length stay as they were. Into a chunk the queue holds alone, at its
 * end, copies extend the last entry. */
static void test_append_never_writes_shared(void **state)
{
    struct cq_chunk *c = chunk_of("shared");
    struct cq q;
    char out[64];
    (void)state;

    cq_init(&q, 1024);
    assert_int_equal(cq_push(&q, c, 0, 6), 0);
    assert_int_equal(cq_append(&q, "+mine", 5), 0);
    assert_int_equal(c->len, 6); /* not appended into the shared chunk */
    assert_int_equal(q.n, 2);
    assert_int_equal(cq_append(&q, "+more", 5), 0);
    assert_int_equal(q.n, 2); /* into the queue's own chunk */
    assert_int_equal(flatten(&q, out, sizeof out), 16);
    assert_memory_equal(out, "shared+mine+more", 16);
    cq_free(&q);
    cq_chunk_unref(c);
}

/* Three ranges of two chunks; after consuming k bytes, for every k, the
 * queue sends exactly the rest, and references are right. */
static void test_consume_every_offset(void **state)
{
    const char *whole = "abcdefghij" "KLMNOP" "qrs";
    (void)state;

    for (size_t k = 0; k <= 19; k++) {
        struct cq_chunk *c1 = chunk_of("abcdefghijXXqrs");
        struct cq_chunk *c2 = chunk_of("KLMNOP");
        struct cq q;
        char out[64];

        cq_init(&q, 64);
        assert_int_equal(cq_push(&q, c1, 0, 10), 0);
        assert_int_equal(cq_push(&q, c2, 0, 6), 0);
        assert_int_equal(cq_push(&q, c1, 12, 3), 0);
        assert_int_equal(q.n, 3);
        cq_consume(&q, k);
        assert_int_equal(cq_len(&q), 19 - k);
        size_t n = flatten(&q, out, sizeof out);
        assert_int_equal(n, 19 - k);
        assert_memory_equal(out, whole + k, n);
        assert_int_equal(c2->refs, k < 16 ? 2 : 1);
        assert_int_equal(c1->refs, k < 10 ? 3 : k < 19 ? 2 : 1);
        cq_free(&q);
        assert_int_equal(c1->refs, 1);
        assert_int_equal(c2->refs, 1);
        cq_chunk_unref(c1);
        cq_chunk_unref(c2);
    }
}

/* The ring grows past its first size and wraps, keeping order; cq_iov
 * gives at most max entries. */
static void test_ring_grows_and_wraps(void **state)
{
    struct cq_chunk *c = chunk_of("abcdefghijklmnopqrstuvwxyz");
    struct cq q;
    (void)state;

    cq_init(&q, 1 << 20);
    size_t want_len = 0;
    /* every other byte: no two ranges merge */
    for (int round = 0; round < 50; round++) {
        for (size_t i = 0; i < 26; i += 2) {
            assert_int_equal(cq_push(&q, c, i, 1), 0);
            want_len++;
        }
        cq_consume(&q, 7); /* the head moves, the ring wraps */
        want_len -= 7;
        assert_int_equal(cq_len(&q), want_len);
    }
    struct iovec iov[5];
    assert_int_equal(cq_iov(&q, iov, 5), 5);
    assert_int_equal(q.n, want_len);
    assert_int_equal(c->refs, 1 + want_len);
    /* The queue holds the sequence a, c, e, ... cut at 50 * 7 = 350 bytes. */
    char out[64];
    size_t n = flatten(&q, out, sizeof out);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(out[i], 'a' + (int)((350 + i) % 13) * 2);
    cq_free(&q);
    assert_int_equal(c->refs, 1);
    cq_chunk_unref(c);
}

/* cq_pinned counts the whole size of every chunk the queue keeps alive:
 * once for a run of entries in one chunk (also across a gap), passed on
 * while a later entry still holds the chunk, gone with the last range. */
static void test_pinned(void **state)
{
    struct cq_chunk *a = cq_chunk_new(1000), *b = cq_chunk_new(500);
    struct cq q;

    cq_chunk_put(a, "0123456789", 10);
    cq_chunk_put(b, "abcdef", 6);
    cq_init(&q, 1 << 20);
    assert_int_equal(cq_pinned(&q), 0);
    assert_int_equal(cq_push(&q, a, 0, 2), 0);
    assert_int_equal(cq_push(&q, a, 2, 2), 0); /* merges */
    assert_int_equal(cq_pinned(&q), 1000);
    assert_int_equal(cq_push(&q, a, 6, 1), 0); /* a gap: one more entry, same chunk */
    assert_int_equal(cq_pinned(&q), 1000);
    assert_int_equal(cq_push(&q, b, 0, 1), 0);
    assert_int_equal(cq_pinned(&q), 1500);
    assert_int_equal(cq_len(&q), 6);
    cq_consume(&q, 3); /* inside the first entry */
    assert_int_equal(cq_pinned(&q), 1500);
    cq_consume(&q, 1); /* the first entry goes; the second still holds a */
    assert_int_equal(cq_pinned(&q), 1500);
    cq_consume(&q, 1); /* the last range of a */
    assert_int_equal(cq_pinned(&q), 500);
    cq_consume(&q, 1);
    assert_int_equal(cq_pinned(&q), 0);
    /* A reader holding one byte of each of ten chunks keeps them all. */
    struct cq_chunk *many[10];
    for (int i = 0; i < 10; i++) {
        many[i] = cq_chunk_new(16384);
        cq_chunk_put(many[i], "x", 1);
        assert_int_equal(cq_push(&q, many[i], 0, 1), 0);
        cq_chunk_unref(many[i]); /* the queue's reference keeps it */
    }
    assert_int_equal(cq_len(&q), 10);
    assert_int_equal(cq_pinned(&q), 10 * 16384);
    cq_free(&q);
    assert_int_equal(cq_pinned(&q), 0);
    cq_chunk_unref(a);
    cq_chunk_unref(b);
}

int main(void)
{
    static struct unit_list l;

    unit_add(&l, "push: consecutive ranges of a chunk merge; gaps do not", test_push_merges, NULL);
    unit_add(&l, "refs: each queue releases its own reference when consumed",
             test_refcount_release, NULL);
    unit_add(&l, "cap: push and append past max queue nothing; exact fit taken",
             test_cap_accounting, NULL);
    unit_add(&l, "append: never writes into a shared chunk", test_append_never_writes_shared, NULL);
    unit_add(&l, "consume: at every offset the rest is sent, refs right",
             test_consume_every_offset, NULL);
    unit_add(&l, "ring: grows and wraps in order", test_ring_grows_and_wraps, NULL);
    unit_add(&l, "pinned: whole chunks, once per run, passed on, released", test_pinned, NULL);
    return unit_run("cq", &l);
}
