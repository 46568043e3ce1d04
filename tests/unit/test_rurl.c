/* Unit tests for proto/rurl: the --redis URL. Each row is parsed whole with
 * its last byte against a guard page, then every proper prefix is parsed
 * too (a prefix is a different URL: it must give its own answer, and never
 * read past its end). */
#include "unit.h"

#include <errno.h>
#include <stdio.h>

#include "proto/rurl.h"

struct rurl_case {
    const char *name;
    const char *in;
    int want; /* 0, -EINVAL or -ENOTSUP */
    const char *host;
    uint16_t port;
    const char *room;
};

/* clang-format off */
static const struct rurl_case cases[] = {
    {"host only", "redis://localhost", 0, "localhost", 6379, "ferry"},
    {"host and port", "redis://127.0.0.1:6380", 0, "127.0.0.1", 6380, "ferry"},
    {"host, port, room", "redis://127.0.0.1:7000/lobby", 0, "127.0.0.1", 7000, "lobby"},
    {"host and room", "redis://r.example.com/a-b_c.9", 0, "r.example.com", 6379, "a-b_c.9"},
    {"empty room is the default", "redis://h:1/", 0, "h", 1, "ferry"},
    {"scheme in capitals", "REDIS://h", 0, "h", 6379, "ferry"},
    {"bracketed IPv6", "redis://[::1]:6379/r", 0, "::1", 6379, "r"},
    {"bracketed IPv6, no port", "redis://[2001:db8::7]", 0, "2001:db8::7", 6379, "ferry"},
    {"bracketed IPv4-mapped IPv6", "redis://[::ffff:127.0.0.1]", 0, "::ffff:127.0.0.1", 6379, "ferry"},
    {"highest port", "redis://h:65535", 0, "h", 65535, "ferry"},
    {"room of 64 characters",
     "redis://h/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 0, "h", 6379,
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"},
    /* Refused. */
    {"room of 65 characters",
     "redis://h/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", -EINVAL, NULL, 0, NULL},
    {"no scheme", "localhost:6379", -EINVAL, NULL, 0, NULL},
    {"another scheme", "http://h", -EINVAL, NULL, 0, NULL},
    {"scheme without slashes", "redis:h", -EINVAL, NULL, 0, NULL},
    {"TLS scheme", "rediss://h", -ENOTSUP, NULL, 0, NULL},
    {"password", "redis://:secret@h", -ENOTSUP, NULL, 0, NULL},
    {"user and password", "redis://u:p@h:1/r", -ENOTSUP, NULL, 0, NULL},
    {"empty host", "redis://", -EINVAL, NULL, 0, NULL},
    {"empty host with port", "redis://:6379", -EINVAL, NULL, 0, NULL},
    {"empty host with room", "redis:///r", -EINVAL, NULL, 0, NULL},
    {"port 0", "redis://h:0", -EINVAL, NULL, 0, NULL},
    {"port 65536", "redis://h:65536", -EINVAL, NULL, 0, NULL},
    {"empty port", "redis://h:", -EINVAL, NULL, 0, NULL},
    {"port with a sign", "redis://h:+1", -EINVAL, NULL, 0, NULL},
    {"port with letters", "redis://h:63a", -EINVAL, NULL, 0, NULL},
    {"two ports", "redis://h:1:2", -EINVAL, NULL, 0, NULL},
    {"bare IPv6", "redis://::1", -EINVAL, NULL, 0, NULL},
    {"empty brackets", "redis://[]:1", -EINVAL, NULL, 0, NULL},
    {"unclosed bracket", "redis://[::1", -EINVAL, NULL, 0, NULL},
    {"junk after bracket", "redis://[::1]x", -EINVAL, NULL, 0, NULL},
    {"name in brackets", "redis://[host]", -EINVAL, NULL, 0, NULL},
    {"space in host", "redis://h ost", -EINVAL, NULL, 0, NULL},
    {"percent in host", "redis://h%41", -EINVAL, NULL, 0, NULL},
    {"database-style path with slash", "redis://h/0/x", -EINVAL, NULL, 0, NULL},
    {"query", "redis://h/r?x=1", -EINVAL, NULL, 0, NULL},
    {"fragment", "redis://h/r#x", -EINVAL, NULL, 0, NULL},
    {"colon in room", "redis://h/a:b", -EINVAL, NULL, 0, NULL},
    {"space in room", "redis://h/a b", -EINVAL, NULL, 0, NULL},
    {"newline in room", "redis://h/a\nb", -EINVAL, NULL, 0, NULL},
    {"NUL-free control byte in room", "redis://h/a\x01", -EINVAL, NULL, 0, NULL},
};
/* clang-format on */

static int parse_guarded(const char *in, size_t len, struct rurl *u)
{
    struct guard g;

    guard_open(&g, len + 1);
    int rc = rurl_parse(guard_put(&g, in, len), len, u);
    guard_close(&g);
    return rc;
}

static void test_parse(void **state)
{
    const struct rurl_case *c = *state;
    struct rurl u;
    struct guard g;
    size_t len = strlen(c->in);

    /* Every prefix parses within its own bytes (the guard catches reads). */
    for (size_t k = 0; k < len; k++) {
        struct rurl p;
        (void)parse_guarded(c->in, k, &p);
    }
    memset(&u, 0x5a, sizeof u);
    guard_open(&g, len + 1);
    int rc = rurl_parse(guard_put(&g, c->in, len), len, &u);
    if (rc != c->want)
        fail_msg("%s: \"%s\" gave %d, want %d", c->name, c->in, rc, c->want);
    if (rc == 0) {
        if (u.host_len != strlen(c->host) || memcmp(u.host, c->host, u.host_len) != 0)
            fail_msg("%s: host \"%.*s\", want \"%s\"", c->name, (int)u.host_len, u.host, c->host);
        if (u.port != c->port)
            fail_msg("%s: port %u, want %u", c->name, u.port, c->port);
        if (u.room_len != strlen(c->room) || memcmp(u.room, c->room, u.room_len) != 0)
            fail_msg("%s: room \"%.*s\", want \"%s\"", c->name, (int)u.room_len, u.room, c->room);
    }
    guard_close(&g);
}

/* The results point into the input (or at the static default room). */
static void test_points_into_input(void **state)
{
    const char *in = "redis://h:1/r";
    struct rurl u;
    (void)state;

    assert_int_equal(rurl_parse(in, strlen(in), &u), 0);
    assert_ptr_equal(u.host, in + 8);
    assert_ptr_equal(u.room, in + 12);
}

/* An error leaves *out as it was. */
static void test_error_leaves_out(void **state)
{
    struct rurl u, before;
    (void)state;

    memset(&u, 0x5a, sizeof u);
    before = u;
    assert_int_equal(rurl_parse("redis://h:0", 11, &u), -EINVAL);
    assert_memory_equal(&u, &before, sizeof u);
}

int main(void)
{
    static struct unit_list l;

    UNIT_ADD_ROWS(&l, cases, test_parse);
    unit_add(&l, "results point into the input", test_points_into_input, NULL);
    unit_add(&l, "an error leaves the output alone", test_error_leaves_out, NULL);
    return unit_run("rurl", &l);
}
