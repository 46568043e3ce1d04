/* Unit tests for proto/bucket: per-peer token buckets in a bounded table.
 * Each case is a script of takes (peer, time) with the verdict each must
 * get, on a table of 2 slots, 10 tokens a second, bursts of 3. */
#include "unit.h"

#include "proto/bucket.h"

struct step {
    const char *peer; /* NULL ends the script */
    int64_t at;       /* ms */
    enum bucket_verdict want;
};

struct bucket_case {
    const char *name;
    struct step steps[16];
};

#define OK BUCKET_OK
#define FIRST BUCKET_OVER_FIRST
#define OVER BUCKET_OVER

/* clang-format off */
static const struct bucket_case cases[] = {
    {"a burst, then refused, told once", {
        {"a", 0, OK}, {"a", 0, OK}, {"a", 0, OK}, {"a", 0, FIRST}, {"a", 0, OVER},
        {"a", 1, OVER}, {NULL, 0, OK}}},
    {"one token back after 100 ms", {
        {"a", 0, OK}, {"a", 0, OK}, {"a", 0, OK}, {"a", 99, FIRST}, {"a", 100, OK},
        {"a", 100, OVER}, {NULL, 0, OK}}},
    {"refused again only after a full bucket", {
        {"a", 0, OK}, {"a", 0, OK}, {"a", 0, OK}, {"a", 0, FIRST}, {"a", 100, OK},
        {"a", 100, OVER}, {"a", 400, OK}, {"a", 400, OK}, {"a", 400, OK}, {"a", 400, FIRST},
        {NULL, 0, OK}}},
    {"a ping-pong dies out: 3 answers, then none", {
        {"b", 0, OK}, {"b", 1, OK}, {"b", 2, OK}, {"b", 3, FIRST}, {NULL, 0, OK}}},
    {"peers have their own buckets", {
        {"a", 0, OK}, {"a", 0, OK}, {"a", 0, OK}, {"a", 0, FIRST}, {"b", 0, OK}, {"b", 0, OK},
        {"b", 0, OK}, {"b", 0, FIRST}, {"a", 0, OVER}, {NULL, 0, OK}}},
    {"a third peer takes the least recently used slot", {
        {"a", 0, OK}, {"a", 0, OK}, {"a", 0, OK}, {"b", 1, OK}, {"a", 2, FIRST},
        {"c", 3, OK},   /* b was used least recently: c takes its slot */
        {"a", 3, OVER}, /* a kept its empty bucket */
        {"c", 4, OK},
        {"b", 5, OK}, {"b", 5, OK}, {"b", 5, OK}, {"b", 5, FIRST}, /* b came back fresh */
        {"c", 5, OK},   /* in a's slot, the least recent: c kept its own */
        {"a", 6, OK},   /* and a comes back fresh too */
        {NULL, 0, OK}}},
    {"an evicted peer comes back with a full bucket", {
        {"a", 0, OK}, {"a", 0, OK}, {"a", 0, OK}, {"a", 0, FIRST}, {"b", 1, OK}, {"c", 2, OK},
        {"a", 3, OK}, {"a", 3, OK}, {"a", 3, OK}, {"a", 3, FIRST}, {NULL, 0, OK}}},
    {"a clock going back refills nothing", {
        {"a", 1000, OK}, {"a", 1000, OK}, {"a", 1000, OK}, {"a", 0, FIRST}, {"a", 500, OVER},
        {NULL, 0, OK}}},
    {"an empty key is refused", {
        {"", 0, OVER}, {"", 0, OVER}, {NULL, 0, OK}}},
};
/* clang-format on */

static void test_script(void **state)
{
    const struct bucket_case *c = *state;
    struct bucket_slot slots[2];
    struct bucket_table t;

    bucket_init(&t, slots, 2, 10.0, 3.0);
    for (size_t i = 0; c->steps[i].peer != NULL; i++) {
        const struct step *s = &c->steps[i];
        enum bucket_verdict got = bucket_take(&t, s->peer, strlen(s->peer), s->at);
        if (got != s->want)
            fail_msg("step %zu (%s at %lld): got %d, want %d", i, s->peer, (long long)s->at,
                     (int)got, (int)s->want);
    }
}

/* Keys longer than BUCKET_KEY_MAX are cut: two that differ only past it
 * share a bucket. */
static void test_long_keys_are_cut(void **state)
{
    struct bucket_slot slots[4];
    struct bucket_table t;
    char k1[BUCKET_KEY_MAX + 4], k2[BUCKET_KEY_MAX + 4];
    (void)state;

    memset(k1, 'x', sizeof k1);
    memset(k2, 'x', sizeof k2);
    k2[BUCKET_KEY_MAX + 1] = 'y';
    bucket_init(&t, slots, 4, 1.0, 1.0);
    assert_int_equal(bucket_take(&t, k1, sizeof k1, 0), BUCKET_OK);
    assert_int_equal(bucket_take(&t, k2, sizeof k2, 0), BUCKET_OVER_FIRST);
}

int main(void)
{
    static struct unit_list l;

    for (size_t i = 0; i < ARRAY_LEN(cases); i++)
        unit_add(&l, cases[i].name, test_script, (void *)&cases[i]);
    unit_add(&l, "long keys are cut", test_long_keys_are_cut, NULL);
    return unit_run("bucket", &l);
}
