/* Unit tests for proto/davlock: the Timeout header, which locks may be
 * granted beside which, who may change what under locks (a token is never
 * another user's capability), expiry, the bounds, refresh by expiry, and
 * the file format (round trip, every cut refused or parsed whole). */
#include "unit.h"

#include <errno.h>
#include <stdio.h>

#include "proto/davlock.h"

struct timeout_row {
    const char *name;
    const char *in; /* NULL: absent */
    uint32_t want;
};

static const struct timeout_row timeout_rows[] = {
    {"timeout absent", NULL, 3600},
    {"timeout seconds", "Second-100", 100},
    {"timeout capped", "Second-999999", 86400},
    {"timeout huge", "Second-99999999999999999999999", 86400},
    {"timeout infinite", "Infinite", 86400},
    {"timeout infinite first", "Infinite, Second-4100000000", 86400},
    {"timeout second first", "Second-60, Infinite", 60},
    {"timeout case", "second-60", 60},
    {"timeout zero is one", "Second-0", 1},
    {"timeout junk then seconds", "Minute-3, Second-7", 7},
    {"timeout junk", "Second-", 3600},
    {"timeout sign", "Second--5", 3600},
    {"timeout trailing junk", "Second-5x", 3600},
    {"timeout empty", "", 3600},
};

static void test_timeout(void **state)
{
    const struct timeout_row *r = *state;
    struct http_str v = {r->in, r->in != NULL ? strlen(r->in) : 0};

    assert_int_equal(davlock_timeout(v, 3600, 86400), r->want);
}

/* A lock for the tables below. */
static struct davlock mk(const char *token, const char *user, const char *path, bool exclusive,
                         bool infinite)
{
    struct davlock l = {
        .exclusive = exclusive, .infinite = infinite, .expires = 100, .timeout = 100};

    snprintf(l.token, sizeof l.token, "urn:uuid:%036d", atoi(token));
    snprintf(l.user, sizeof l.user, "%s", user);
    l.path = (char *)path;
    l.owner = (char *)"";
    return l;
}

struct grant_row {
    const char *name;
    const char *path; /* the existing lock */
    bool exclusive, infinite;
    const char *want_path; /* the new one */
    bool want_exclusive, want_infinite;
    int rc;
};

static const struct grant_row grant_rows[] = {
    {"grant elsewhere", "a", true, false, "b", true, false, 0},
    {"grant same exclusive", "a", true, false, "a", true, false, -EBUSY},
    {"grant shared on exclusive", "a", true, false, "a", false, false, -EBUSY},
    {"grant exclusive on shared", "a", false, false, "a", true, false, -EBUSY},
    {"grant shared on shared", "a", false, false, "a", false, false, 0},
    {"grant member of depth 0", "a", true, false, "a/b", true, false, 0},
    {"grant member of infinity", "a", true, true, "a/b", true, false, -EBUSY},
    {"grant deep member of infinity", "a", true, true, "a/b/c", true, false, -EBUSY},
    {"grant sibling prefix", "a", true, true, "ab", true, false, 0},
    {"grant root infinity covers all", ".", true, true, "x/y", true, false, -EBUSY},
    {"grant infinity over member", "a/b", true, false, "a", true, true, -EBUSY},
    {"grant depth 0 over member", "a/b", true, false, "a", true, false, 0},
    {"grant shared infinity over shared member", "a/b", false, false, "a", false, true, 0},
    {"grant root infinity over member", "a/b", true, false, ".", true, true, -EBUSY},
};

static void test_grant(void **state)
{
    const struct grant_row *r = *state;
    struct davlock_table t;
    struct davlock l = mk("1", "u", r->path, r->exclusive, r->infinite);
    struct davlock n = mk("2", "u", r->want_path, r->want_exclusive, r->want_infinite);

    davlock_init(&t, 10, 10);
    assert_int_equal(davlock_add(&t, &l), 0);
    assert_int_equal(davlock_may_grant(&t, r->want_path, r->want_exclusive, r->want_infinite),
                     r->rc);
    assert_int_equal(davlock_add(&t, &n), r->rc);
    davlock_free(&t);
}

/* may_change: the table holds lock 1 (user u, exclusive, depth 0 on "f")
 * and lock 2 (user u, exclusive, infinity on "d"), and shared locks 3
 * (user u) and 4 (user v) on "s". */
struct change_row {
    const char *name;
    const char *path;
    unsigned how;
    const char *user;
    const char *tokens; /* digits of the submitted tokens */
    int rc;
};

static const struct change_row change_rows[] = {
    {"change unlocked", "g", 0, "u", "", 0},
    {"change locked no token", "f", 0, "u", "", -EBUSY},
    {"change locked with token", "f", 0, "u", "1", 0},
    {"change locked wrong token", "f", 0, "u", "2", -EBUSY},
    {"change token of another user", "f", 0, "v", "1", -EBUSY},
    {"change member under infinity", "d/x", 0, "u", "", -EBUSY},
    {"change member with token", "d/x", 0, "u", "2", 0},
    {"change member other user", "d/x", 0, "v", "2", -EBUSY},
    {"change parent depth 0 of locked", ".", 0, "u", "", 0},
    {"change parent infinity of locked", ".", DAVLOCK_DEEP, "u", "1", -EBUSY},
    {"change parent infinity all tokens", ".", DAVLOCK_DEEP, "u", "12", -EBUSY},
    {"change shared one token", "s", 0, "u", "3", 0},
    {"change shared other holder", "s", 0, "v", "4", 0},
    {"change shared token of other", "s", 0, "v", "3", -EBUSY},
    {"change shared none", "s", 0, "u", "", -EBUSY},
    {"change content in depth 0 folder", "f/x", 0, "u", "", 0},
    {"change new member of depth 0 folder", "f/x", DAVLOCK_MEMBER, "u", "", -EBUSY},
    {"change new member of depth 0 folder token", "f/x", DAVLOCK_MEMBER, "u", "1", 0},
    {"change new member other user's token", "f/x", DAVLOCK_MEMBER, "v", "1", -EBUSY},
    {"change deeper member of depth 0 folder", "f/x/y", DAVLOCK_MEMBER, "u", "", 0},
    {"change sibling prefix not member", "ff", DAVLOCK_MEMBER, "u", "", 0},
    {"change top-level member, root unlocked", "x", DAVLOCK_MEMBER, "u", "", 0},
};

static bool submits(void *arg, const char *token, size_t len)
{
    const char *digits = arg;
    char t[DAVLOCK_TOKEN_LEN + 1];

    for (const char *d = digits; *d; d++) {
        snprintf(t, sizeof t, "urn:uuid:%036d", *d - '0');
        if (len == strlen(t) && memcmp(t, token, len) == 0)
            return true;
    }
    return false;
}

static void fill(struct davlock_table *t)
{
    struct davlock ls[] = {mk("1", "u", "f", true, false), mk("2", "u", "d", true, true),
                           mk("3", "u", "s", false, false), mk("4", "v", "s", false, false)};

    davlock_init(t, 10, 10);
    for (size_t i = 0; i < ARRAY_LEN(ls); i++)
        assert_int_equal(davlock_add(t, &ls[i]), 0);
}

static void test_change(void **state)
{
    const struct change_row *r = *state;
    struct davlock_table t;
    const struct davlock *blocker = NULL;

    fill(&t);
    int rc = davlock_may_change(&t, r->path, r->how, r->user, submits, (void *)r->tokens, &blocker);
    assert_int_equal(rc, r->rc);
    if (rc < 0)
        assert_non_null(blocker);
    davlock_free(&t);
}

static void test_infinity_beneath_all_tokens(void **state)
{
    (void)state;
    struct davlock_table t;

    fill(&t);
    /* Everything beneath the root, with a token for every lock there
     * (shared "s" by lock 3 alone). */
    assert_int_equal(davlock_may_change(&t, ".", DAVLOCK_DEEP, "u", submits, (void *)"123", NULL),
                     0);
    davlock_free(&t);
}

static void test_expire_bounds_remove(void **state)
{
    (void)state;
    struct davlock_table t;
    struct davlock a = mk("1", "u", "a", true, false), b = mk("2", "u", "b", true, false),
                   c = mk("3", "v", "c", true, false), d = mk("4", "w", "d", true, false);

    davlock_init(&t, 3, 2);
    a.expires = 50;
    assert_int_equal(davlock_add(&t, &a), 0);
    assert_int_equal(davlock_add(&t, &a), -EEXIST);
    assert_int_equal(davlock_add(&t, &b), 0);
    struct davlock e = mk("5", "u", "e", true, false);
    assert_int_equal(davlock_add(&t, &e), -EUSERS); /* two per user */
    assert_int_equal(davlock_add(&t, &c), 0);
    assert_int_equal(davlock_add(&t, &d), -EUSERS); /* three in all */
    assert_int_equal(davlock_expire(&t, 49), 0);
    assert_int_equal(davlock_expire(&t, 50), 1); /* a is gone at its expiry */
    assert_null(davlock_find(&t, a.token, strlen(a.token)));
    assert_int_equal(davlock_may_change(&t, "a", 0, "u", submits, (void *)"", NULL), 0);
    assert_int_equal(davlock_add(&t, &d), 0);
    assert_true(davlock_remove(&t, b.token, strlen(b.token)));
    assert_false(davlock_remove(&t, b.token, strlen(b.token)));
    assert_int_equal(t.n, 2);
    struct davlock big = mk("6", "x", "f", true, false);
    char owner[DAVLOCK_OWNER_MAX + 2];
    memset(owner, 'o', sizeof owner - 1);
    owner[sizeof owner - 1] = '\0';
    big.owner = owner;
    assert_int_equal(davlock_add(&t, &big), -ENAMETOOLONG);
    davlock_free(&t);
}

static void test_member_of_locked_root(void **state)
{
    (void)state;
    struct davlock_table t;
    struct davlock r = mk("9", "u", ".", true, false);

    davlock_init(&t, 10, 10);
    assert_int_equal(davlock_add(&t, &r), 0);
    assert_int_equal(davlock_may_change(&t, "x", DAVLOCK_MEMBER, "u", submits, (void *)"", NULL),
                     -EBUSY);
    assert_int_equal(davlock_may_change(&t, "x", 0, "u", submits, (void *)"", NULL), 0);
    assert_int_equal(davlock_may_change(&t, "x/y", DAVLOCK_MEMBER, "u", submits, (void *)"", NULL),
                     0);
    davlock_free(&t);
}

static void test_in_way(void **state)
{
    (void)state;
    struct davlock_table t;

    fill(&t); /* f (depth 0), d (infinity), s (shared twice) */
    assert_string_equal(davlock_in_way(&t, "f")->path, "f");
    assert_string_equal(davlock_in_way(&t, "d/x/y")->path, "d");
    assert_string_equal(davlock_in_way(&t, "f/new")->path, "f"); /* its parent */
    assert_non_null(davlock_in_way(&t, "."));                    /* one beneath */
    assert_null(davlock_in_way(&t, "g"));
    assert_null(davlock_in_way(&t, "f/x/y"));
    davlock_free(&t);
}

static void test_forget(void **state)
{
    (void)state;
    struct davlock_table t;

    fill(&t);
    davlock_forget(&t, "d");
    assert_int_equal(t.n, 3);
    davlock_forget(&t, "ff"); /* not "f" */
    assert_int_equal(t.n, 3);
    davlock_forget(&t, ".");
    assert_int_equal(t.n, 0);
    davlock_free(&t);
}

static void test_token(void **state)
{
    (void)state;
    unsigned char raw[16];
    char tok[DAVLOCK_TOKEN_LEN + 1];

    memset(raw, 0xff, sizeof raw);
    davlock_token_format(raw, tok);
    assert_string_equal(tok, "urn:uuid:ffffffff-ffff-4fff-bfff-ffffffffffff");
    memset(raw, 0, sizeof raw);
    davlock_token_format(raw, tok);
    assert_string_equal(tok, "urn:uuid:00000000-0000-4000-8000-000000000000");
    assert_int_equal(strlen(tok), DAVLOCK_TOKEN_LEN);
}

static void test_file_round_trip(void **state)
{
    (void)state;
    struct davlock l = mk("7", "", "dir/a b\t%\nc", false, true), back;
    char line[1024];
    struct guard g;

    l.owner = (char *)"<D:href xmlns:D=\"DAV:\">mailto:x@y</D:href>\n";
    size_t n = davlock_format(&l, line, sizeof line);
    assert_true(n > 0 && line[n - 1] == '\n');
    assert_null(memchr(line, '\n', n - 1)); /* one line whatever the names hold */
    assert_int_equal(davlock_parse(line, n - 1, &back), 0);
    assert_string_equal(back.token, l.token);
    assert_string_equal(back.user, "");
    assert_string_equal(back.path, l.path);
    assert_string_equal(back.owner, l.owner);
    assert_false(back.exclusive);
    assert_true(back.infinite);
    assert_int_equal(back.expires, 100);
    assert_int_equal(back.timeout, 100);
    davlock_release(&back);

    /* "-" is the empty string, so a user or owner "-" is escaped. */
    struct davlock m = mk("8", "-", ".", true, false);
    m.owner = (char *)"-";
    n = davlock_format(&m, line, sizeof line);
    assert_int_equal(davlock_parse(line, n - 1, &back), 0);
    assert_string_equal(back.user, "-");
    assert_string_equal(back.owner, "-");
    davlock_release(&back);

    /* Every cut: refused, or parsed as the whole (only the last field can
     * be cut to a shorter valid one), never a read past the end. */
    n = davlock_format(&l, line, sizeof line) - 1;
    guard_open(&g, n);
    for (size_t cut = 0; cut < n; cut++) {
        const char *in = guard_put(&g, line, cut);
        if (davlock_parse(in, cut, &back) == 0)
            davlock_release(&back);
    }
    guard_close(&g);
    assert_int_equal(davlock_format(&l, line, 40), 0); /* does not fit */
}

struct bad_row {
    const char *name;
    const char *line;
};

static const struct bad_row bad_rows[] = {
    {"file short token", "urn:uuid:1\t-\tx\t0\t5\t5\ta\t-"},
    {"file seven fields", "urn:uuid:000000000000000000000000000000000001\t-\tx\t0\t5\t5\ta"},
    {"file nine fields", "urn:uuid:000000000000000000000000000000000001\t-\tx\t0\t5\t5\ta\t-\t-"},
    {"file bad scope", "urn:uuid:000000000000000000000000000000000001\t-\tq\t0\t5\t5\ta\t-"},
    {"file bad depth", "urn:uuid:000000000000000000000000000000000001\t-\tx\t1\t5\t5\ta\t-"},
    {"file bad expiry", "urn:uuid:000000000000000000000000000000000001\t-\tx\t0\t5z\t5\ta\t-"},
    {"file zero timeout", "urn:uuid:000000000000000000000000000000000001\t-\tx\t0\t5\t0\ta\t-"},
    {"file bad escape", "urn:uuid:000000000000000000000000000000000001\t-\tx\t0\t5\t5\ta%2\t-"},
    {"file NUL escape", "urn:uuid:000000000000000000000000000000000001\t-\tx\t0\t5\t5\ta%00\t-"},
    {"file empty path", "urn:uuid:000000000000000000000000000000000001\t-\tx\t0\t5\t5\t-\t-"},
    {"file long user", "urn:uuid:000000000000000000000000000000000001\t"
                       "uuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuu\tx\t0\t5\t5\ta\t-"},
};

static void test_bad(void **state)
{
    const struct bad_row *r = *state;
    struct davlock l;

    assert_int_equal(davlock_parse(r->line, strlen(r->line), &l), -EINVAL);
}

int main(void)
{
    static struct unit_list l;

    UNIT_ADD_ROWS(&l, timeout_rows, test_timeout);
    UNIT_ADD_ROWS(&l, grant_rows, test_grant);
    UNIT_ADD_ROWS(&l, change_rows, test_change);
    UNIT_ADD_ROWS(&l, bad_rows, test_bad);
    unit_add(&l, "infinity beneath with all tokens", test_infinity_beneath_all_tokens, NULL);
    unit_add(&l, "expire, bounds, remove", test_expire_bounds_remove, NULL);
    unit_add(&l, "forget", test_forget, NULL);
    unit_add(&l, "the lock in the way", test_in_way, NULL);
    unit_add(&l, "member of a locked root", test_member_of_locked_root, NULL);
    unit_add(&l, "token", test_token, NULL);
    unit_add(&l, "file round trip", test_file_round_trip, NULL);
    return unit_run("davlock", &l);
}
