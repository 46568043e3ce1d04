/* Unit tests for core/ctimeset: what goes in, what a change of ctime,
 * inode or device takes out, and what is refused as too recent. */
#include "unit.h"

#include <string.h>

#include "core/ctimeset.h"

static struct stat file(uint64_t dev, uint64_t ino, int64_t sec, long nsec)
{
    struct stat st;
    memset(&st, 0, sizeof st);
    st.st_dev = (dev_t)dev;
    st.st_ino = (ino_t)ino;
    st.st_ctim.tv_sec = (time_t)sec;
    st.st_ctim.tv_nsec = nsec;
    return st;
}

static const struct timespec NOW = {.tv_sec = 1000, .tv_nsec = 500000000};

static void test_in_as_it_was_and_out_once_changed(void **state)
{
    (void)state;
    struct ctimeset s;
    assert_int_equal(ctimeset_init(&s, 64), 0);
    struct stat a = file(1, 42, 900, 123);
    assert_false(ctimeset_has(&s, &a));
    assert_true(ctimeset_add(&s, &a, NOW));
    assert_true(ctimeset_has(&s, &a));
    struct stat changed = file(1, 42, 900, 124); /* an xattr set: ctime moved */
    assert_false(ctimeset_has(&s, &changed));
    struct stat other_ino = file(1, 43, 900, 123);
    assert_false(ctimeset_has(&s, &other_ino));
    struct stat other_dev = file(2, 42, 900, 123);
    assert_false(ctimeset_has(&s, &other_dev));
    ctimeset_free(&s);
}

static void test_too_recent_or_whole_seconds_refused(void **state)
{
    (void)state;
    struct ctimeset s;
    assert_int_equal(ctimeset_init(&s, 8), 0);
    struct stat recent = file(1, 7, 1000, 400000000); /* exactly 100 ms old */
    assert_false(ctimeset_add(&s, &recent, NOW));
    assert_false(ctimeset_has(&s, &recent));
    struct stat older = file(1, 7, 1000, 399999999); /* 100 ms and 1 ns */
    assert_true(ctimeset_add(&s, &older, NOW));
    struct stat future = file(1, 8, 2000, 1);
    assert_false(ctimeset_add(&s, &future, NOW));
    struct stat coarse = file(1, 9, 10, 0); /* a file system of whole seconds */
    assert_false(ctimeset_add(&s, &coarse, NOW));
    assert_false(ctimeset_has(&s, &coarse));
    ctimeset_free(&s);
}

static void test_bounded_a_slot_taken_over(void **state)
{
    (void)state;
    struct ctimeset s;
    assert_int_equal(ctimeset_init(&s, 3), 0); /* rounded up to one set of 4 slots */
    assert_int_equal(s.mask, 3);
    struct stat v[64];
    size_t in = 0;
    for (size_t i = 0; i < 64; i++) {
        v[i] = file(1, 1000 + i, 900, 5);
        assert_true(ctimeset_add(&s, &v[i], NOW));
    }
    for (size_t i = 0; i < 64; i++)
        in += ctimeset_has(&s, &v[i]);
    assert_int_equal(in, 4); /* one set, full: the last 4 put, taken in turn */
    for (size_t i = 60; i < 64; i++)
        assert_true(ctimeset_has(&s, &v[i]));
    ctimeset_free(&s);
    assert_false(ctimeset_has(&s, &v[63]));
    assert_false(ctimeset_add(&s, &v[63], NOW));
}

static void test_a_set_keeps_its_four_and_a_file_its_slot(void **state)
{
    (void)state;
    struct ctimeset s;
    assert_int_equal(ctimeset_init(&s, 4), 0);
    struct stat v[4];
    for (size_t i = 0; i < 4; i++) {
        v[i] = file(1, 1 + i, 900, 5);
        assert_true(ctimeset_add(&s, &v[i], NOW));
    }
    struct stat again = file(1, 2, 900, 9); /* ino 2 changed: its own slot, nobody else's */
    assert_true(ctimeset_add(&s, &again, NOW));
    assert_true(ctimeset_has(&s, &again));
    assert_false(ctimeset_has(&s, &v[1]));
    assert_true(ctimeset_has(&s, &v[0]) && ctimeset_has(&s, &v[2]) && ctimeset_has(&s, &v[3]));
    ctimeset_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_in_as_it_was_and_out_once_changed),
        cmocka_unit_test(test_too_recent_or_whole_seconds_refused),
        cmocka_unit_test(test_bounded_a_slot_taken_over),
        cmocka_unit_test(test_a_set_keeps_its_four_and_a_file_its_slot),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
