/* Unit tests for proto/auth: --auth file lines, hash shapes, user names,
 * rights lookup at segment boundaries, strict base64 and Basic
 * credentials. Parser inputs sit against a guard page, and every
 * truncation of the good lines and tokens is fed too. */
#include "unit.h"

#include <errno.h>
#include <stdlib.h>

#include "proto/auth.h"
#include "proto/lex.h"

#define YES "$y$j9T$NqedTXohiOkz1JGSe3/8D/$I3nAQDr/Rzcy2XebJo.pq2HQrzwlJMQ22xzVnK6LPK9"
#define BCR "$2b$04$7EZw.sNN1VDrc0NHzgi0z.TNlG97dz.be.cb2jSKctniqDPHU8Jre"
#define SHA                                                                                        \
    "$6$uuDS../H356rmdCG$YMwFOGWdItPlJ1yKi7w7borc9e3f63x549UPyWPUoyHBo3F62v6/"                     \
    "0oWzA7RLI1Boo3nCWO1bEPdN6q6JKtOzh1"
#define SHAR                                                                                       \
    "$6$rounds=5000$abcdefgh$"                                                                     \
    "KQeXafAQAaOoKTevphVU215RvJdgzyfASRasIOuh12hO8u0r1bGW92ZnTmC9IjsiQ8VPiTXBiZF49dFL1U4wX/"

static struct guard g;

/* ---- lines ----------------------------------------------------------------- */

struct line_case {
    const char *name;
    const char *line;
    int want;         /* 1 entry, 0 skipped, -EINVAL */
    const char *user; /* entry: the user */
    size_t nrules;    /* entry: how many rules */
};

/* clang-format off */
static const struct line_case line_cases[] = {
    {"line: yescrypt, one rule", "alice:" YES ":ro:/", 1, "alice", 1},
    {"line: bcrypt, two rules", "bob:" BCR ":rw:/incoming,ro:/", 1, "bob", 2},
    {"line: sha512crypt", "carol:" SHA ":ro:/pub", 1, "carol", 1},
    {"line: sha512crypt with rounds", "dave:" SHAR ":ro:/pub", 1, "dave", 1},
    {"line: a CR before the end is dropped", "alice:" YES ":ro:/\r", 1, "alice", 1},
    {"line: anonymous", "*::ro:/pub", 1, "*", 1},
    {"line: no: refuses a prefix", "e:" YES ":ro:/,no:/secret", 1, "e", 2},
    {"line: name with dot, dash, underscore", "a.b-c_d:" YES ":ro:/", 1, "a.b-c_d", 1},
    {"line: empty", "", 0, NULL, 0},
    {"line: blanks only", "  \t ", 0, NULL, 0},
    {"line: comment", "# alice:pw:ro:/", 0, NULL, 0},
    {"line: indented comment", "   # x", 0, NULL, 0},
    {"line: plain password refused", "alice:secret:ro:/", -EINVAL, NULL, 0},
    {"line: plain password that starts like a hash", "alice:$y$secret:ro:/", -EINVAL, NULL, 0},
    {"line: md5crypt refused", "alice:$1$abcdefgh$0123456789012345678901:ro:/", -EINVAL, NULL, 0},
    {"line: bcrypt $2a$ refused", "alice:$2a$04$7EZw.sNN1VDrc0NHzgi0z.TNlG97dz.be.cb2jSKctniqDPHU8Jre:ro:/", -EINVAL, NULL, 0},
    {"line: bcrypt short", "alice:$2b$04$7EZw.sNN1VDrc0NHzgi0z.TNlG97dz.be.cb2jSKctniqDPHU8Jr:ro:/", -EINVAL, NULL, 0},
    {"line: bcrypt cost 03", "alice:$2b$03$7EZw.sNN1VDrc0NHzgi0z.TNlG97dz.be.cb2jSKctniqDPHU8Jre:ro:/", -EINVAL, NULL, 0},
    {"line: yescrypt with a bad byte", "alice:$y$j9T$NqedTXohiOkz1JGSe3/8D/$I3nAQDr/Rzcy2XebJo.pq2HQrzwlJMQ22xzVnK6LPK!:ro:/", -EINVAL, NULL, 0},
    {"line: sha512 bad rounds", "alice:$6$rounds=x$abcdefgh$KQeXafAQAaOoKTevphVU215RvJdgzyfASRasIOuh12hO8u0r1bGW92ZnTmC9IjsiQ8VPiTXBiZF49dFL1U4wX/:ro:/", -EINVAL, NULL, 0},
    {"line: no hash", "alice::ro:/", -EINVAL, NULL, 0},
    {"line: anonymous with a hash", "*:" YES ":ro:/", -EINVAL, NULL, 0},
    {"line: no rights", "alice:" YES ":", -EINVAL, NULL, 0},
    {"line: only two fields", "alice:" YES, -EINVAL, NULL, 0},
    {"line: only a name", "alice", -EINVAL, NULL, 0},
    {"line: empty user", ":" YES ":ro:/", -EINVAL, NULL, 0},
    {"line: user with a space", "al ice:" YES ":ro:/", -EINVAL, NULL, 0},
    {"line: user starting with a dot", ".alice:" YES ":ro:/", -EINVAL, NULL, 0},
    {"line: user starting with a dash", "-alice:" YES ":ro:/", -EINVAL, NULL, 0},
    {"line: user too long", "a23456789012345678901234567890123:" YES ":ro:/", -EINVAL, NULL, 0},
    {"line: user of 32 bytes", "a2345678901234567890123456789012:" YES ":ro:/", 1, "a2345678901234567890123456789012", 1},
    {"line: user not ASCII", "\xc3\xa9:" YES ":ro:/", -EINVAL, NULL, 0},
    {"line: leading blank", " alice:" YES ":ro:/", -EINVAL, NULL, 0},
    {"line: unknown right", "alice:" YES ":rx:/", -EINVAL, NULL, 0},
    {"line: right without a prefix", "alice:" YES ":ro:", -EINVAL, NULL, 0},
    {"line: relative prefix", "alice:" YES ":ro:pub", -EINVAL, NULL, 0},
    {"line: prefix with a trailing slash", "alice:" YES ":ro:/pub/", -EINVAL, NULL, 0},
    {"line: prefix with //", "alice:" YES ":ro:/a//b", -EINVAL, NULL, 0},
    {"line: prefix with ..", "alice:" YES ":ro:/a/../b", -EINVAL, NULL, 0},
    {"line: prefix with .", "alice:" YES ":ro:/./b", -EINVAL, NULL, 0},
    {"line: prefix with a control byte", "alice:" YES ":ro:/a\tb", -EINVAL, NULL, 0},
    {"line: empty item", "alice:" YES ":ro:/,", -EINVAL, NULL, 0},
    {"line: same prefix twice", "alice:" YES ":ro:/a,rw:/a", -EINVAL, NULL, 0},
    {"line: rights with a space", "alice:" YES ":ro:/, rw:/a", -EINVAL, NULL, 0},
    {"line: seventeen prefixes", "alice:" YES ":ro:/1,ro:/2,ro:/3,ro:/4,ro:/5,ro:/6,ro:/7,ro:/8,ro:/9,ro:/10,ro:/11,ro:/12,ro:/13,ro:/14,ro:/15,ro:/16,ro:/17", -EINVAL, NULL, 0},
};
/* clang-format on */

static void test_line(void **state)
{
    const struct line_case *c = *state;
    static struct auth_entry e;
    const char *why = NULL;
    size_t len = strlen(c->line);
    const char *in = guard_put(&g, c->line, len);

    int r = auth_parse_line(in, len, &e, &why);
    if (r != c->want)
        fail_msg("%s: got %d, want %d (%s)", c->name, r, c->want, why ? why : "");
    if (r < 0 && (why == NULL || why[0] == '\0'))
        fail_msg("%s: no reason given", c->name);
    if (r == 1) {
        assert_string_equal(e.user, c->user);
        assert_int_equal(e.nrules, c->nrules);
    }
    /* Every truncation of a good line parses or is refused: no over-read. */
    if (c->want == 1)
        for (size_t n = 0; n < len; n++) {
            in = guard_put(&g, c->line, n);
            (void)auth_parse_line(in, n, &e, &why);
        }
}

static void test_line_fields(void **state)
{
    static struct auth_entry e;
    const char *why = "";
    const char *l = "bob:" BCR ":rw:/incoming,ro:/,no:/secret";

    assert_int_equal(auth_parse_line(l, strlen(l), &e, &why), 1);
    assert_string_equal(e.hash, BCR);
    assert_int_equal(e.nrules, 3);
    assert_string_equal(e.rules[0].prefix, "/incoming");
    assert_int_equal(e.rules[0].right, AUTH_WRITE);
    assert_string_equal(e.rules[1].prefix, "/");
    assert_int_equal(e.rules[1].right, AUTH_READ);
    assert_int_equal(e.rules[2].right, AUTH_NONE);
}

static void test_hash_kinds(void **state)
{
    assert_int_equal(auth_hash_kind(YES, strlen(YES)), AUTH_HASH_YESCRYPT);
    assert_int_equal(auth_hash_kind(BCR, strlen(BCR)), AUTH_HASH_BCRYPT);
    assert_int_equal(auth_hash_kind(SHA, strlen(SHA)), AUTH_HASH_SHA512);
    assert_int_equal(auth_hash_kind(SHAR, strlen(SHAR)), AUTH_HASH_SHA512);
    assert_int_equal(auth_hash_kind("", 0), AUTH_HASH_NONE);
    assert_int_equal(auth_hash_kind("$", 1), AUTH_HASH_NONE);
    assert_int_equal(auth_hash_kind("password", 8), AUTH_HASH_NONE);
    /* Each truncation of a good hash is no hash. */
    const char *good[] = {YES, BCR, SHA, SHAR};
    for (size_t i = 0; i < ARRAY_LEN(good); i++)
        for (size_t n = 0; n < strlen(good[i]); n++) {
            const char *in = guard_put(&g, good[i], n);
            if (auth_hash_kind(in, n) != AUTH_HASH_NONE)
                fail_msg("%s cut at %zu taken as a hash", good[i], n);
        }
}

/* ---- the dummy check's setting --------------------------------------------- */

#define BCR12 "$2b$12$23fwzH/Vc8TF/KTloxcXd.gxznNvTDlo4MgZdG2UVd.2tFwONq/8m"
#define SHAR656                                                                                    \
    "$6$rounds=656000$saltsaltsalt$"                                                               \
    "HmJvwT.MT0xDFDIkFQ6hBc/WBVwbJlkEfG3ecKUnAZAG7VzMApd.XlkUDVoHhl1H21XgNNdFW63uo08k6xNQi1"
#define YESF "$y$jFT$NqedTXohiOkz1JGSe3/8D/$xoGDgnNA/rGlepk47sfb2mnFSk6lLh3NsW3zCOhf6C5"
/* Settings as crypt_gensalt makes them, with fresh salts. */
#define FRESH_SHA "$6$v3DdNWfJa06xZbKK"
#define FRESH_BCR "$2b$12$w2lpGfwn0GE8iV84ny710O"
#define FRESH_BCR05 "$2b$05$w2lpGfwn0GE8iV84ny710O"
#define FRESH_YES "$y$j9T$NU85BI.A1WoBJ.8NVd82F."

struct params_case {
    const char *name;
    const char *s;
    size_t want;
};

/* clang-format off */
static const struct params_case params_cases[] = {
    {"params: yescrypt hash", YES, 7},
    {"params: yescrypt setting", FRESH_YES, 7},
    {"params: yescrypt, longer field", "$y$jFT.abc$salt", 11},
    {"params: bcrypt hash", BCR, 7},
    {"params: bcrypt setting", FRESH_BCR, 7},
    {"params: sha512crypt hash", SHA, 3},
    {"params: sha512crypt setting", FRESH_SHA, 3},
    {"params: sha512crypt with rounds", SHAR, 15},
    {"params: sha512crypt, 656000 rounds", SHAR656, 17},
    {"params: rounds= without a number", "$6$rounds=$salt", 0},
    {"params: rounds= without its end", "$6$rounds=5000", 0},
    {"params: yescrypt without a field", "$y$$salt", 0},
    {"params: yescrypt field without its end", "$y$j9T", 0},
    {"params: bcrypt cost not digits", "$2b$1x$salt", 0},
    {"params: bcrypt 2a is not taken", "$2a$12$w2lpGfwn0GE8iV84ny710O", 0},
    {"params: md5crypt", "$1$salt$hash", 0},
    {"params: empty", "", 0},
    {"params: a password", "secret", 0},
};
/* clang-format on */

static void test_params(void **state)
{
    const struct params_case *t = *state;
    const char *in = guard_put(&g, t->s, strlen(t->s));

    assert_int_equal(auth_hash_params(in, strlen(t->s)), t->want);
}

struct dummy_case {
    const char *name;
    const char *hash;  /* an account's */
    const char *fresh; /* from crypt_gensalt */
    int want;          /* length, or -errno */
    const char *out;
};

/* clang-format off */
static const struct dummy_case dummy_cases[] = {
    {"dummy: sha512crypt keeps its rounds", SHAR, FRESH_SHA, 31, "$6$rounds=5000$v3DdNWfJa06xZbKK"},
    {"dummy: sha512crypt keeps 656000 rounds", SHAR656, FRESH_SHA, 33,
     "$6$rounds=656000$v3DdNWfJa06xZbKK"},
    {"dummy: sha512crypt without rounds stays so", SHA, FRESH_SHA, 19, FRESH_SHA},
    {"dummy: bcrypt cost 12 stays 12", BCR12, FRESH_BCR05, 29, FRESH_BCR},
    {"dummy: bcrypt cost 04 stays 04", BCR, FRESH_BCR, 29, "$2b$04$w2lpGfwn0GE8iV84ny710O"},
    {"dummy: yescrypt keeps its params", YESF, FRESH_YES, 29, "$y$jFT$NU85BI.A1WoBJ.8NVd82F."},
    {"dummy: yescrypt default params", YES, FRESH_YES, 29, FRESH_YES},
    {"dummy: a salt of another scheme", SHA, FRESH_YES, -EINVAL, NULL},
    {"dummy: a bcrypt salt for sha512crypt", SHAR, FRESH_BCR, -EINVAL, NULL},
    {"dummy: a short bcrypt salt", BCR, "$2b$12$w2lpGfwn0GE8iV84ny710", -EINVAL, NULL},
    {"dummy: a long sha512crypt salt", SHA, "$6$v3DdNWfJa06xZbKKx", -EINVAL, NULL},
    {"dummy: no salt", YES, "$y$j9T$", -EINVAL, NULL},
    {"dummy: a '$' in the salt", SHA, "$6$v3DdN$WfJa06", -EINVAL, NULL},
    {"dummy: a plain password is no account", "secret", FRESH_SHA, -EINVAL, NULL},
    {"dummy: a truncated hash is no account", "$6$rounds=5000$abcdefgh$", FRESH_SHA, -EINVAL, NULL},
};
/* clang-format on */

static void test_dummy(void **state)
{
    const struct dummy_case *t = *state;
    char out[AUTH_HASH_MAX + 1];
    const char *fresh = guard_put(&g, t->fresh, strlen(t->fresh));

    memset(out, 'x', sizeof out);
    int n = auth_dummy_setting(t->hash, strlen(t->hash), fresh, strlen(t->fresh), out, sizeof out);
    assert_int_equal(n, t->want);
    if (n >= 0) {
        assert_string_equal(out, t->out);
        assert_int_equal(strlen(out), (size_t)n);
    }
}

static void test_dummy_room_and_truncations(void **state)
{
    char out[AUTH_HASH_MAX + 1];
    const char *want = "$6$rounds=5000$v3DdNWfJa06xZbKK";
    size_t wl = strlen(want);

    /* Exactly the room for the setting and its NUL, and one byte less. */
    assert_int_equal(
        auth_dummy_setting(SHAR, strlen(SHAR), FRESH_SHA, strlen(FRESH_SHA), out, wl + 1), (int)wl);
    assert_string_equal(out, want);
    assert_int_equal(auth_dummy_setting(SHAR, strlen(SHAR), FRESH_SHA, strlen(FRESH_SHA), out, wl),
                     -ENOSPC);
    /* Every cut of a fresh setting is refused or gives a shorter salt,
     * never reads past its end (the guard page). */
    const char *fresh[] = {FRESH_SHA, FRESH_BCR, FRESH_YES};
    const char *hash[] = {SHAR, BCR, YES};
    for (size_t i = 0; i < ARRAY_LEN(fresh); i++)
        for (size_t n = 0; n < strlen(fresh[i]); n++) {
            const char *in = guard_put(&g, fresh[i], n);
            int r = auth_dummy_setting(hash[i], strlen(hash[i]), in, n, out, sizeof out);
            if (r < 0)
                continue;
            size_t hp = auth_hash_params(hash[i], strlen(hash[i])), fp = auth_hash_params(in, n);
            if (i == 1 || fp == 0 || (size_t)r != hp + n - fp || memcmp(out + hp, in + fp, n - fp))
                fail_msg("%s cut at %zu gave %s", fresh[i], n, out);
        }
}

/* ---- rights lookup --------------------------------------------------------- */

struct lookup_case {
    const char *name;
    const char *rights;
    const char *path;
    enum auth_right want;
};

/* clang-format off */
static const struct lookup_case lookup_cases[] = {
    {"lookup: root covers all", "ro:/", "/a/b/c", AUTH_READ},
    {"lookup: root covers root", "ro:/", "/", AUTH_READ},
    {"lookup: prefix itself", "rw:/incoming,ro:/", "/incoming", AUTH_WRITE},
    {"lookup: beneath the prefix", "rw:/incoming,ro:/", "/incoming/x/y", AUTH_WRITE},
    {"lookup: /incomingX is not under /incoming", "rw:/incoming,ro:/", "/incomingX", AUTH_READ},
    {"lookup: /incoming.txt is not under /incoming", "rw:/incoming", "/incoming.txt", AUTH_NONE},
    {"lookup: a shorter path is not under", "rw:/incoming", "/inc", AUTH_NONE},
    {"lookup: no rule matches", "ro:/pub", "/private/x", AUTH_NONE},
    {"lookup: root not covered by /pub", "ro:/pub", "/", AUTH_NONE},
    {"lookup: longest wins over order", "ro:/a/b,rw:/a", "/a/b/c", AUTH_READ},
    {"lookup: longest wins, other order", "rw:/a,ro:/a/b", "/a/b/c", AUTH_READ},
    {"lookup: sibling of the longer", "rw:/a,ro:/a/b", "/a/bc", AUTH_WRITE},
    {"lookup: no: beats a shorter rw", "rw:/,no:/secret", "/secret/k", AUTH_NONE},
    {"lookup: no: leaves the rest", "rw:/,no:/secret", "/secrets", AUTH_WRITE},
    {"lookup: deeper yes under no", "no:/a,ro:/a/pub", "/a/pub/f", AUTH_READ},
    {"lookup: case matters", "ro:/Pub", "/pub", AUTH_NONE},
};
/* clang-format on */

static void test_lookup(void **state)
{
    const struct lookup_case *c = *state;
    struct auth_rule rules[AUTH_RULES_MAX];
    size_t n = 0;
    const char *why = "";

    assert_int_equal(
        auth_rights_parse(c->rights, strlen(c->rights), rules, AUTH_RULES_MAX, &n, &why), 0);
    const char *p = guard_put(&g, c->path, strlen(c->path));
    enum auth_right r = auth_rights_lookup(rules, n, p, strlen(c->path));
    if (r != c->want)
        fail_msg("%s: got %d, want %d", c->name, (int)r, (int)c->want);
}

/* ---- the decision on a spelled and a real path ------------------------------- */

struct allows_case {
    const char *name;
    const char *own;            /* RIGHTS of the user's line; NULL: no line */
    const char *anon;           /* RIGHTS of "*"; NULL: no line */
    const char *spelled, *real; /* real NULL: the spelling alone */
    enum auth_right need;
    bool want;
};

#define ALICE "ro:/,rw:/incoming,no:/secret,no:/pub/private,no:/pub/sub/index.html"
#define ANON "ro:/pub,no:/pub/private"

/* clang-format off */
static const struct allows_case allows_cases[] = {
    {"allows: plain read", ALICE, NULL, "pub/a.txt", "pub/a.txt", AUTH_READ, true},
    {"allows: plain write", ALICE, NULL, "incoming/x", "incoming/x", AUTH_WRITE, true},
    {"allows: write where only read", ALICE, NULL, "pub/x", "pub/x", AUTH_WRITE, false},
    {"allows: root reads", ALICE, NULL, ".", ".", AUTH_READ, true},
    {"allows: root not written", ALICE, NULL, ".", ".", AUTH_WRITE, false},
    {"allows: write through a link to no:", ALICE, NULL, "incoming/link/x", "secret/x", AUTH_WRITE, false},
    {"allows: write through a link to ro:", ALICE, NULL, "incoming/up/x", "x", AUTH_WRITE, false},
    {"allows: read through a folder link", ALICE, NULL, "pub/up/secret/s.txt", "secret/s.txt", AUTH_READ, false},
    {"allows: link in no: to ro: stays shut", ALICE, NULL, "secret/out", "pub/a.txt", AUTH_READ, false},
    {"allows: link in ro: to ro:", ALICE, NULL, "pub/alias", "pub/a.txt", AUTH_READ, true},
    {"allows: link into rw: from ro: is no write", ALICE, NULL, "pub/drop/x", "incoming/x", AUTH_WRITE, false},
    {"allows: forbidden index file", ALICE, NULL, "pub/sub/index.html", "pub/sub/index.html", AUTH_READ, false},
    {"allows: index's folder still reads", ALICE, NULL, "pub/sub", "pub/sub", AUTH_READ, true},
    {"allows: link to a forbidden file", ALICE, NULL, "pub/tosecret", "secret/s.txt", AUTH_READ, false},
    {"allows: segment boundary on real", ALICE, NULL, "pub/x", "secrets/x", AUTH_READ, true},
    {"allows: spelling alone, allowed", ALICE, NULL, "incoming/link/x", NULL, AUTH_WRITE, true},
    {"allows: spelling alone, refused", ALICE, NULL, "secret/x", NULL, AUTH_READ, false},
    {"allows: need none always", NULL, NULL, "secret/x", "secret/x", AUTH_NONE, true},
    {"allows: no lines at all", NULL, NULL, "pub/a.txt", "pub/a.txt", AUTH_READ, false},
    {"allows: anonymous reads pub", NULL, ANON, "pub/a.txt", "pub/a.txt", AUTH_READ, true},
    {"allows: anonymous through a link out of pub", NULL, ANON, "pub/up/x", "x", AUTH_READ, false},
    {"allows: anonymous link to private", NULL, ANON, "pub/p", "pub/private/f", AUTH_READ, false},
    {"allows: user gets anon's better right", "rw:/incoming", ANON, "pub/a.txt", "pub/a.txt", AUTH_READ, true},
    {"allows: the better per path, both needed", "rw:/incoming", ANON, "incoming/l", "pub/a.txt", AUTH_READ, true},
    {"allows: the better per path, one short", "rw:/incoming", ANON, "incoming/l", "pub/a.txt", AUTH_WRITE, false},
    {"allows: anon's no: does not cut the user's rw:", "rw:/pub/private", ANON, "pub/private/f", "pub/private/f", AUTH_WRITE, true},
};
/* clang-format on */

/* Fills e's rules from rights (NULL: returns NULL, no line). */
static const struct auth_entry *entry_of(struct auth_entry *e, const char *rights)
{
    const char *why = "";

    if (rights == NULL)
        return NULL;
    memset(e, 0, sizeof *e);
    assert_int_equal(
        auth_rights_parse(rights, strlen(rights), e->rules, AUTH_RULES_MAX, &e->nrules, &why), 0);
    return e;
}

static void test_allows(void **state)
{
    const struct allows_case *c = *state;
    static struct auth_entry own, anon;
    const struct auth_entry *o = entry_of(&own, c->own), *a = entry_of(&anon, c->anon);
    size_t sl = strlen(c->spelled), rl = c->real ? strlen(c->real) : 0;
    /* Each path against the guard page: a read past its end crashes. */
    char *sp = malloc(sl + 1);
    assert_non_null(sp);
    memcpy(sp, c->spelled, sl + 1);
    const char *real = c->real ? guard_put(&g, c->real, rl + 1) : NULL;

    bool got = auth_allows(o, a, sp, real, c->need);
    free(sp);
    if (got != c->want)
        fail_msg("%s: got %d, want %d", c->name, (int)got, (int)c->want);
}

static void test_entry_right(void **state)
{
    static struct auth_entry e;

    (void)state;
    entry_of(&e, ALICE);
    assert_int_equal(auth_entry_right(&e, "."), AUTH_READ);
    assert_int_equal(auth_entry_right(&e, "incoming"), AUTH_WRITE);
    assert_int_equal(auth_entry_right(&e, "incomingX"), AUTH_READ);
    assert_int_equal(auth_entry_right(&e, "secret"), AUTH_NONE);
    assert_int_equal(auth_entry_right(&e, "secret/a/b"), AUTH_NONE);
    assert_int_equal(auth_entry_right(&e, "pub/sub/index.html"), AUTH_NONE);
    assert_int_equal(auth_entry_right(&e, "pub/sub/index.htm"), AUTH_READ);
    assert_int_equal(auth_entry_right(NULL, "pub"), AUTH_NONE);
    entry_of(&e, "ro:/a");
    assert_int_equal(auth_entry_right(&e, "."), AUTH_NONE);
    assert_int_equal(auth_entry_right(&e, "a"), AUTH_READ);
}

/* ---- base64 ---------------------------------------------------------------- */

struct b64_case {
    const char *name;
    const char *in;
    long want;       /* length, or -errno */
    const char *out; /* when want >= 0 */
    size_t outsz;    /* 0: plenty */
    size_t inlen;    /* 0: strlen(in) */
};

/* clang-format off */
static const struct b64_case b64_cases[] = {
    {"b64: three bytes", "YWJj", 3, "abc", 0, 0},
    {"b64: two bytes, one =", "YWI=", 2, "ab", 0, 0},
    {"b64: one byte, two =", "YQ==", 1, "a", 0, 0},
    {"b64: longer", "YWxpY2U6c2VjcmV0", 12, "alice:secret", 0, 0},
    {"b64: + and /", "+/+/", 3, "\xfb\xff\xbf", 0, 0},
    {"b64: empty refused", "", -EINVAL, NULL, 0, 0},
    {"b64: missing padding", "YQ", -EINVAL, NULL, 0, 0},
    {"b64: missing one =", "YWI", -EINVAL, NULL, 0, 0},
    {"b64: three =", "Y===", -EINVAL, NULL, 0, 0},
    {"b64: four =", "====", -EINVAL, NULL, 0, 0},
    {"b64: = in the middle", "YQ==YWJj", -EINVAL, NULL, 0, 0},
    {"b64: data after =", "YW=j", -EINVAL, NULL, 0, 0},
    {"b64: nonzero unused bits, two =", "YR==", -EINVAL, NULL, 0, 0},
    {"b64: nonzero unused bits, one =", "YWJ=", -EINVAL, NULL, 0, 0},
    {"b64: space inside", "YW Jj", -EINVAL, NULL, 0, 0},
    {"b64: newline inside", "YWJj\nYWJj", -EINVAL, NULL, 0, 0},
    {"b64: url-safe alphabet refused", "-_-_", -EINVAL, NULL, 0, 0},
    {"b64: NUL byte", "YW\0j", -EINVAL, NULL, 0, 4},
    {"b64: five characters", "YWJjZ", -EINVAL, NULL, 0, 0},
    {"b64: output exactly fits", "YWJj", 3, "abc", 3, 0},
    {"b64: output too small", "YWJj", -ENOSPC, NULL, 2, 0},
};
/* clang-format on */

static void test_b64(void **state)
{
    const struct b64_case *c = *state;
    unsigned char out[64];
    size_t len = c->inlen ? c->inlen : strlen(c->in);
    const char *in = guard_put(&g, c->in, len);

    long r = lex_b64_decode(in, len, out, c->outsz ? c->outsz : sizeof out);
    if (r != c->want)
        fail_msg("%s: got %ld, want %ld", c->name, r, c->want);
    if (r >= 0)
        assert_memory_equal(out, c->out, (size_t)r);
}

/* ---- Basic credentials ----------------------------------------------------- */

struct basic_case {
    const char *name;
    const char *value;
    enum auth_basic_result want;
    const char *user, *pass;
};

/* clang-format off */
static const struct basic_case basic_cases[] = {
    {"basic: alice:secret", "Basic YWxpY2U6c2VjcmV0", AUTH_BASIC_OK, "alice", "secret"},
    {"basic: scheme in any case", "bAsIc YWxpY2U6c2VjcmV0", AUTH_BASIC_OK, "alice", "secret"},
    {"basic: several spaces, trailing blank", "Basic   YWxpY2U6c2VjcmV0 \t", AUTH_BASIC_OK, "alice", "secret"},
    {"basic: colon in the password", "Basic YTpiOmM=", AUTH_BASIC_OK, "a", "b:c"},
    {"basic: empty password", "Basic YTo=", AUTH_BASIC_OK, "a", ""},
    {"basic: empty user", "Basic OnB3", AUTH_BASIC_OK, "", "pw"},
    {"basic: UTF-8 password", "Basic YTrDqQ==", AUTH_BASIC_OK, "a", "\xc3\xa9"},
    {"basic: Bearer is another scheme", "Bearer abc", AUTH_BASIC_SCHEME, NULL, NULL},
    {"basic: Basicx is another scheme", "BasicYWxpY2U6c2VjcmV0", AUTH_BASIC_SCHEME, NULL, NULL},
    {"basic: Basi", "Basi", AUTH_BASIC_SCHEME, NULL, NULL},
    {"basic: empty value", "", AUTH_BASIC_SCHEME, NULL, NULL},
    {"basic: no token", "Basic", AUTH_BASIC_BAD, NULL, NULL},
    {"basic: no token after spaces", "Basic   ", AUTH_BASIC_BAD, NULL, NULL},
    {"basic: no colon", "Basic YWxpY2U=", AUTH_BASIC_BAD, NULL, NULL},
    {"basic: NUL in the password", "Basic YTpiAGM=", AUTH_BASIC_BAD, NULL, NULL},
    {"basic: bad base64", "Basic YWxpY2U6c2VjcmV0=", AUTH_BASIC_BAD, NULL, NULL},
    {"basic: two tokens", "Basic YTpi YTpi", AUTH_BASIC_BAD, NULL, NULL},
};
/* clang-format on */

static void test_basic(void **state)
{
    const struct basic_case *c = *state;
    char buf[AUTH_CRED_MAX + 1];
    struct auth_cred cr;
    size_t len = strlen(c->value);
    const char *in = guard_put(&g, c->value, len);

    enum auth_basic_result r = auth_basic_parse(in, len, buf, sizeof buf, &cr);
    if (r != c->want)
        fail_msg("%s: got %d, want %d", c->name, (int)r, (int)c->want);
    if (r == AUTH_BASIC_OK) {
        assert_int_equal(cr.user_len, strlen(c->user));
        assert_memory_equal(cr.user, c->user, cr.user_len);
        assert_int_equal(cr.pass_len, strlen(c->pass));
        assert_string_equal(cr.pass, c->pass);
        for (size_t n = 0; n < len; n++) {
            in = guard_put(&g, c->value, n);
            (void)auth_basic_parse(in, n, buf, sizeof buf, &cr);
        }
    }
}

/* Credentials longer than the buffer are refused, not cut. */
static void test_basic_too_long(void **state)
{
    char value[8 + 4 * 700], buf[AUTH_CRED_MAX + 1];
    struct auth_cred cr;
    size_t n = 6;

    memcpy(value, "Basic ", 6);
    for (size_t i = 0; i < 700; i++) { /* 2100 bytes of "a:aa..." */
        memcpy(value + n, i == 0 ? "YTph" : "YWFh", 4);
        n += 4;
    }
    assert_int_equal(auth_basic_parse(value, n, buf, sizeof buf, &cr), AUTH_BASIC_BAD);
    assert_int_equal(auth_basic_parse(value, 6 + 4 * 300, buf, sizeof buf, &cr), AUTH_BASIC_OK);
    assert_int_equal(cr.pass_len, 900 - 2);
}

static void test_users(void **state)
{
    assert_true(auth_user_valid("alice", 5));
    assert_true(auth_user_valid("A_1.b-c", 7));
    assert_false(auth_user_valid("", 0));
    assert_false(auth_user_valid("*", 1));
    assert_false(auth_user_valid("a:b", 3));
    assert_false(auth_user_valid("a/b", 3));
    assert_false(auth_user_valid(".a", 2));
    assert_false(auth_user_valid("-a", 2));
    assert_false(auth_user_valid("a b", 3));
}

static void test_ct_equal(void **state)
{
    assert_true(auth_ct_equal("abcd", "abcd", 4));
    assert_false(auth_ct_equal("abcd", "abce", 4));
    assert_false(auth_ct_equal("xbcd", "abcd", 4));
    assert_true(auth_ct_equal("a", "b", 0));
}

/* ---- the client's side: challenges and the Basic value ------------------ */

struct challenge_case {
    const char *name;
    const char *v;
    bool basic;
};

/* clang-format off */
static const struct challenge_case challenge_cases[] = {
    {"ferry's own", "Basic realm=\"ferry\", charset=\"UTF-8\"", true},
    {"bare Basic", "Basic", true},
    {"any case", "bAsIc realm=x", true},
    {"after another scheme", "Digest realm=\"a\", nonce=\"b\", Basic realm=\"c\"", true},
    {"leading blanks", "  Basic realm=x", true},
    {"Digest only", "Digest realm=\"a\", nonce=\"b\"", false},
    {"Bearer only", "Bearer", false},
    {"Basic inside a quoted realm", "Digest realm=\"x, Basic y\"", false},
    {"an escaped quote in the realm", "Digest realm=\"x\\\", Basic y\"", false},
    {"a longer scheme name", "Basically realm=x", false},
    {"a parameter named basic", "Digest basic=1", false},
    {"empty", "", false},
};
/* clang-format on */

static void test_challenge(void **state)
{
    const struct challenge_case *c = *state;
    size_t len = strlen(c->v);

    for (size_t cut = 0; cut <= len; cut++) /* no truncation reads past its end */
        (void)auth_challenge_basic(guard_put(&g, c->v, cut), cut);
    if (auth_challenge_basic(guard_put(&g, c->v, len), len) != c->basic)
        fail_msg("%s: \"%s\" should%s offer Basic", c->name, c->v, c->basic ? "" : " not");
}

struct format_case {
    const char *name;
    const char *user, *pass;
    size_t outsz;
    long rc;
    const char *want;
};

/* clang-format off */
static const struct format_case format_cases[] = {
    {"RFC 7617's example", "Aladdin", "open sesame", 64, 34, "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="},
    {"empty password", "alice", "", 64, 14, "Basic YWxpY2U6"},
    {"a colon in the password", "a", "b:c", 64, 14, "Basic YTpiOmM="},
    {"UTF-8", "j\xc3\xb6rg", "x", 64, 18, "Basic asO2cmc6eA=="},
    {"exactly enough room", "alice", "", 15, 14, "Basic YWxpY2U6"},
    {"one byte short", "alice", "", 14, -ENOSPC, NULL},
    {"a colon in the user", "a:b", "c", 64, -EINVAL, NULL},
    {"a newline in the password", "a", "b\nc", 64, -EINVAL, NULL},
};
/* clang-format on */

static void test_format(void **state)
{
    const struct format_case *c = *state;
    char out[64];

    long rc = auth_basic_format(c->user, strlen(c->user), c->pass, strlen(c->pass), out, c->outsz);
    if (rc != c->rc)
        fail_msg("%s: gave %ld, want %ld", c->name, rc, c->rc);
    if (rc >= 0 && strcmp(out, c->want) != 0)
        fail_msg("%s: \"%s\", want \"%s\"", c->name, out, c->want);
    if (rc >= 0 && (size_t)rc != strlen(out))
        fail_msg("%s: length %ld for \"%s\"", c->name, rc, out);
}

/* A user and password longer together than AUTH_CRED_MAX are refused. */
static void test_format_too_long(void **state)
{
    static char big[AUTH_CRED_MAX + 1], out[2 * AUTH_CRED_MAX];

    (void)state;
    memset(big, 'p', sizeof big - 1);
    assert_int_equal(auth_basic_format("u", 1, big, AUTH_CRED_MAX - 2, out, sizeof out) > 0, 1);
    assert_int_equal(auth_basic_format("u", 1, big, AUTH_CRED_MAX - 1, out, sizeof out), -ENOSPC);
}

static int setup(void **state)
{
    guard_open(&g, 8192);
    return 0;
}

static int teardown(void **state)
{
    guard_close(&g);
    return 0;
}

int main(void)
{
    static struct unit_list l;

    UNIT_ADD_ROWS(&l, line_cases, test_line);
    unit_add(&l, "line: fields and rights", test_line_fields, NULL);
    unit_add(&l, "hash: kinds and truncations", test_hash_kinds, NULL);
    UNIT_ADD_ROWS(&l, params_cases, test_params);
    UNIT_ADD_ROWS(&l, dummy_cases, test_dummy);
    unit_add(&l, "dummy: room and truncations", test_dummy_room_and_truncations, NULL);
    UNIT_ADD_ROWS(&l, lookup_cases, test_lookup);
    UNIT_ADD_ROWS(&l, allows_cases, test_allows);
    unit_add(&l, "entry_right: rel spellings", test_entry_right, NULL);
    UNIT_ADD_ROWS(&l, b64_cases, test_b64);
    UNIT_ADD_ROWS(&l, basic_cases, test_basic);
    unit_add(&l, "basic: too long is refused", test_basic_too_long, NULL);
    unit_add(&l, "users: name rules", test_users, NULL);
    unit_add(&l, "ct_equal", test_ct_equal, NULL);
    UNIT_ADD_ROWS(&l, challenge_cases, test_challenge);
    UNIT_ADD_ROWS(&l, format_cases, test_format);
    unit_add(&l, "format: too long is refused", test_format_too_long, NULL);
    return _cmocka_run_group_tests("auth", l.t, l.n, setup, teardown);
}
