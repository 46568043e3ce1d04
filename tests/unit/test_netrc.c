/* Unit tests for proto/netrc: machine and default entries, the login
 * filter, quoting and escapes, comments, account and macdef skipping, bad
 * files and limits. Every case also runs at every truncation, placed
 * against a guard page, so reading past the end crashes. */
#include "unit.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

#include "proto/netrc.h"

static struct guard g;

struct netrc_case {
    const char *name;
    const char *text;
    const char *host;
    const char *login; /* NULL: any */
    int rc;
    const char *want_login, *want_password; /* NULL: not set */
};

#define TWO "machine a.example login alice password apw\nmachine b.example login bob password bpw\n"

/* clang-format off */
static const struct netrc_case cases[] = {
    {"first machine", TWO, "a.example", NULL, 1, "alice", "apw"},
    {"second machine", TWO, "b.example", NULL, 1, "bob", "bpw"},
    {"host in other case", TWO, "B.EXAMPLE", NULL, 1, "bob", "bpw"},
    {"no such machine", TWO, "c.example", NULL, 0, NULL, NULL},
    {"empty file", "", "a", NULL, 0, NULL, NULL},
    {"only blanks and comments", "  \n# machine a login x password y\n\t", "a", NULL, 0, NULL, NULL},
    {"one line, no newline", "machine h login u password p", "h", NULL, 1, "u", "p"},
    {"words in any order", "machine h password p login u", "h", NULL, 1, "u", "p"},
    {"spread over lines", "machine h\n  login u\n  password p\n", "h", NULL, 1, "u", "p"},
    {"login only", "machine h login u", "h", NULL, 1, "u", NULL},
    {"password only", "machine h password p", "h", NULL, 1, NULL, "p"},
    {"default", "default login anon password guest", "any.host", NULL, 1, "anon", "guest"},
    {"machine before default", "machine h login u password p\ndefault login d password dp", "h", NULL, 1, "u", "p"},
    {"default after no match", "machine h login u password p\ndefault login d password dp", "x", NULL, 1, "d", "dp"},
    {"login filter picks the second", "machine h login u1 password p1\nmachine h login u2 password p2", "h", "u2", 1, "u2", "p2"},
    {"login filter, none fits", "machine h login u1 password p1", "h", "u3", 0, NULL, NULL},
    {"login filter, entry without login", "machine h password p", "h", "u", 1, NULL, "p"},
    {"account skipped", "machine h login u account acct password p", "h", NULL, 1, "u", "p"},
    {"comment after a value", "machine h login u # password no\npassword p", "h", NULL, 1, "u", "p"},
    {"quoted password with spaces", "machine h login u password \"a b c\"", "h", NULL, 1, "u", "a b c"},
    {"quoted escapes", "machine h login \"u\\\"1\" password \"x\\\\y\\tz\\n\"", "h", NULL, 1, "u\"1", "x\\y\tz\n"},
    {"quoted empty password", "machine h login u password \"\"", "h", NULL, 1, "u", ""},
    {"a # inside a word", "machine h login u password p#q", "h", NULL, 1, "u", "p#q"},
    {"macdef skipped to the empty line",
     "macdef init\ncd /pub\nmachine h login evil password evil\n\nmachine h login u password p", "h", NULL, 1, "u", "p"},
    {"macdef inside an entry", "machine h login u\nmacdef m\nbin\n\npassword p", "h", NULL, 1, "u", "p"},
    {"macdef to the end", "machine h login u password p\nmacdef m\nmachine x", "x", NULL, 0, NULL, NULL},
    {"unknown words skipped", "machine h port 21 login u password p", "h", NULL, 1, "u", "p"},
    {"machine without a name", "machine", "h", NULL, -EINVAL, NULL, NULL},
    {"login without a value", "machine h login", "h", NULL, -EINVAL, NULL, NULL},
    {"password without a value", "machine h login u password", "h", NULL, -EINVAL, NULL, NULL},
    {"unterminated quote", "machine h login u password \"abc", "h", NULL, -EINVAL, NULL, NULL},
    {"backslash at the end of a quote", "machine h password \"a\\", "h", NULL, -EINVAL, NULL, NULL},
    {"a match before a bad entry", "machine h login u password p\nmachine", "h", NULL, 1, "u", "p"},
    {"login and password before any machine", "login u password p\nmachine h", "h", NULL, 1, NULL, NULL},
};
/* clang-format on */

static void check(const struct netrc_case *c, int rc, const struct netrc_entry *e)
{
    if (rc != c->rc)
        fail_msg("%s: gave %d, want %d", c->name, rc, c->rc);
    if (rc != 1)
        return;
    if (e->has_login != (c->want_login != NULL) ||
        (c->want_login != NULL && strcmp(e->login, c->want_login) != 0))
        fail_msg("%s: login %d \"%s\"", c->name, e->has_login, e->login);
    if (e->has_password != (c->want_password != NULL) ||
        (c->want_password != NULL && strcmp(e->password, c->want_password) != 0))
        fail_msg("%s: password %d \"%s\"", c->name, e->has_password, e->password);
}

static void test_lookup(void **state)
{
    const struct netrc_case *c = *state;
    struct netrc_entry e;
    size_t len = strlen(c->text);

    /* Every truncation: no read past the end, and an answer of the allowed kinds. */
    for (size_t cut = 0; cut < len; cut++) {
        int rc = netrc_lookup(guard_put(&g, c->text, cut), cut, c->host, c->login, &e);
        if (rc != 1 && rc != 0 && rc != -EINVAL)
            fail_msg("%s: cut at %zu gave %d", c->name, cut, rc);
    }
    int rc = netrc_lookup(guard_put(&g, c->text, len), len, c->host, c->login, &e);
    check(c, rc, &e);
}

/* A token of 255 bytes fits; 256, quoted or not, is -ENAMETOOLONG. */
static void test_limits(void **state)
{
    char text[700], f[300];
    struct netrc_entry e;

    (void)state;
    memset(f, 'p', sizeof f);
    snprintf(text, sizeof text, "machine h login u password %.255s", f);
    assert_int_equal(netrc_lookup(guard_put(&g, text, strlen(text)), strlen(text), "h", NULL, &e),
                     1);
    assert_int_equal(strlen(e.password), 255);
    snprintf(text, sizeof text, "machine h login u password %.256s", f);
    assert_int_equal(netrc_lookup(guard_put(&g, text, strlen(text)), strlen(text), "h", NULL, &e),
                     -ENAMETOOLONG);
    snprintf(text, sizeof text, "machine h login u password \"%.256s\"", f);
    assert_int_equal(netrc_lookup(guard_put(&g, text, strlen(text)), strlen(text), "h", NULL, &e),
                     -ENAMETOOLONG);
}

static int setup(void **state)
{
    (void)state;
    guard_open(&g, 4096);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    guard_close(&g);
    return 0;
}

int main(void)
{
    static struct unit_list l;

    UNIT_ADD_ROWS(&l, cases, test_lookup);
    unit_add(&l, "limits: 255 bytes a token", test_limits, NULL);
    return _cmocka_run_group_tests("netrc", l.t, l.n, setup, teardown);
}
