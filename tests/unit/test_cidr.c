/* Unit tests for proto/cidr: --proxy-from lists and matching peers,
 * IPv4, IPv6 and IPv4-mapped IPv6. Inputs sit against a guard page. */
#include "unit.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>

#include "proto/cidr.h"

static int parse(const char *s, struct cidr_list *l, const char **bad, size_t *badlen,
                 struct guard *g)
{
    size_t len = strlen(s);
    const char *in = guard_put(g, s, len);
    int rc = cidr_list_parse(in, len, l, bad, badlen);

    if (rc < 0 && bad != NULL)
        *bad = s + (*bad - in); /* back into s, for the messages */
    return rc;
}

struct parse_case {
    const char *name;
    const char *in;
    int want;        /* 0 or the -errno */
    const char *bad; /* the entry blamed, when want < 0 */
    size_t n;        /* entries, when want == 0 */
};

/* clang-format off */
static const struct parse_case parse_cases[] = {
    {"parse: one IPv4 address", "127.0.0.1", 0, NULL, 1},
    {"parse: one IPv6 address", "::1", 0, NULL, 1},
    {"parse: IPv4 block", "10.0.0.0/8", 0, NULL, 1},
    {"parse: IPv6 block", "2001:db8::/32", 0, NULL, 1},
    {"parse: everything, both families", "0.0.0.0/0,::/0", 0, NULL, 2},
    {"parse: /32 and /128", "10.1.2.3/32,::1/128", 0, NULL, 2},
    {"parse: IPv4-mapped IPv6 block", "::ffff:10.0.0.0/104", 0, NULL, 1},
    {"parse: three entries", "127.0.0.1,10.0.0.0/8,fd00::/8", 0, NULL, 3},
    {"parse: empty", "", -EINVAL, "", 0},
    {"parse: a comma alone", ",", -EINVAL, "", 0},
    {"parse: trailing comma", "127.0.0.1,", -EINVAL, "", 0},
    {"parse: leading comma", ",127.0.0.1", -EINVAL, ",127.0.0.1", 0},
    {"parse: two commas", "127.0.0.1,,::1", -EINVAL, ",::1", 0},
    {"parse: a space after the comma", "127.0.0.1, ::1", -EINVAL, " ::1", 0},
    {"parse: a host name", "localhost", -EINVAL, "localhost", 0},
    {"parse: IPv4 with three parts", "10.0.0/8", -EINVAL, "10.0.0/8", 0},
    {"parse: IPv4 part over 255", "10.0.0.256", -EINVAL, "10.0.0.256", 0},
    {"parse: IPv4 with a leading zero", "010.0.0.0/8", -EINVAL, "010.0.0.0/8", 0},
    {"parse: IPv6 in brackets", "[::1]", -EINVAL, "[::1]", 0},
    {"parse: IPv6 with a zone", "fe80::1%eth0", -EINVAL, "fe80::1%eth0", 0},
    {"parse: the second entry bad", "127.0.0.1,nope,::1", -EINVAL, "nope,::1", 0},
    {"parse: slash and nothing", "10.0.0.0/", -ERANGE, "10.0.0.0/", 0},
    {"parse: nothing before the slash", "/8", -EINVAL, "/8", 0},
    {"parse: IPv4 /33", "10.0.0.0/33", -ERANGE, "10.0.0.0/33", 0},
    {"parse: IPv6 /129", "::/129", -ERANGE, "::/129", 0},
    {"parse: negative prefix", "10.0.0.0/-1", -ERANGE, "10.0.0.0/-1", 0},
    {"parse: prefix with a leading zero", "10.0.0.0/08", -ERANGE, "10.0.0.0/08", 0},
    {"parse: prefix with a plus sign", "10.0.0.0/+8", -ERANGE, "10.0.0.0/+8", 0},
    {"parse: prefix not a number", "10.0.0.0/x", -ERANGE, "10.0.0.0/x", 0},
    {"parse: two slashes", "10.0.0.0/8/8", -ERANGE, "10.0.0.0/8/8", 0},
    {"parse: huge prefix", "::/99999999999999999999", -ERANGE, "::/99999999999999999999", 0},
    {"parse: host bits set, IPv4", "10.0.0.1/8", -EDOM, "10.0.0.1/8", 0},
    {"parse: host bits set, IPv6", "::1/64", -EDOM, "::1/64", 0},
    {"parse: host bit in the last place", "10.0.0.1/31", -EDOM, "10.0.0.1/31", 0},
    {"parse: /0 with an address", "1.0.0.0/0", -EDOM, "1.0.0.0/0", 0},
};
/* clang-format on */

static void test_parse(void **state)
{
    const struct parse_case *c = *state;
    struct cidr_list l;
    const char *bad = NULL;
    size_t badlen = 0;
    struct guard g;

    guard_open(&g, strlen(c->in));
    int rc = parse(c->in, &l, &bad, &badlen, &g);
    if (rc != c->want)
        fail_msg("%s: got %d, want %d", c->name, rc, c->want);
    if (rc == 0) {
        assert_int_equal(l.n, c->n);
    } else {
        /* the blamed entry runs up to the next comma */
        const char *comma = strchr(c->bad, ',');
        size_t want_len = comma ? (size_t)(comma - c->bad) : strlen(c->bad);
        if (strncmp(bad, c->bad, strlen(c->bad)) != 0 || badlen != want_len)
            fail_msg("%s: blamed '%.*s'", c->name, (int)badlen, bad);
    }
    guard_close(&g);
}

static void test_parse_cap(void **state)
{
    char in[64 * 12];
    struct cidr_list l;
    const char *bad;
    size_t badlen, len = 0;
    struct guard g;
    (void)state;

    for (int i = 0; i < CIDR_LIST_MAX; i++)
        len += (size_t)snprintf(in + len, sizeof in - len, "%s10.0.0.%d", i ? "," : "", i);
    guard_open(&g, sizeof in);
    assert_int_equal(parse(in, &l, &bad, &badlen, &g), 0);
    assert_int_equal(l.n, CIDR_LIST_MAX);
    snprintf(in + len, sizeof in - len, ",10.0.1.0");
    assert_int_equal(parse(in, &l, &bad, &badlen, &g), -E2BIG);
    assert_string_equal(bad, "10.0.1.0");
    guard_close(&g);
}

/* The list is (pointer, length): a NUL inside is a bad byte, not an end. */
static void test_parse_nul(void **state)
{
    static const char in[] = "127.0.0.1\0x,::1";
    struct cidr_list l;
    const char *bad;
    size_t badlen;
    struct guard g;
    (void)state;

    guard_open(&g, sizeof in - 1);
    const char *p = guard_put(&g, in, sizeof in - 1);
    assert_int_equal(cidr_list_parse(p, sizeof in - 1, &l, &bad, &badlen), -EINVAL);
    assert_ptr_equal(bad, p);
    assert_int_equal(badlen, 11);
    guard_close(&g);
}

static struct sockaddr_storage addr(const char *text)
{
    struct sockaddr_storage ss;

    memset(&ss, 0, sizeof ss);
    if (strchr(text, ':') != NULL) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
        in6->sin6_family = AF_INET6;
        assert_int_equal(inet_pton(AF_INET6, text, &in6->sin6_addr), 1);
    } else {
        struct sockaddr_in *in = (struct sockaddr_in *)&ss;
        in->sin_family = AF_INET;
        assert_int_equal(inet_pton(AF_INET, text, &in->sin_addr), 1);
    }
    return ss;
}

struct match_case {
    const char *name;
    const char *list;
    const char *peer;
    bool want;
};

/* clang-format off */
static const struct match_case match_cases[] = {
    {"match: the address itself", "127.0.0.1", "127.0.0.1", true},
    {"match: another IPv4 address", "127.0.0.1", "127.0.0.2", false},
    {"match: inside /8", "127.0.0.0/8", "127.255.3.4", true},
    {"match: just outside /8", "127.0.0.0/8", "128.0.0.1", false},
    {"match: inside /31", "10.0.0.2/31", "10.0.0.3", true},
    {"match: outside /31", "10.0.0.2/31", "10.0.0.4", false},
    {"match: a /12 mid-byte, inside", "172.16.0.0/12", "172.31.255.255", true},
    {"match: a /12 mid-byte, outside", "172.16.0.0/12", "172.32.0.0", false},
    {"match: IPv4 /0 takes every IPv4 peer", "0.0.0.0/0", "203.0.113.9", true},
    {"match: IPv4 /0 takes no IPv6 peer", "0.0.0.0/0", "2001:db8::1", false},
    {"match: IPv4-mapped peer, IPv4 entry", "127.0.0.1", "::ffff:127.0.0.1", true},
    {"match: IPv4-mapped peer outside the IPv4 entry", "127.0.0.1", "::ffff:127.0.0.2", false},
    {"match: IPv4-mapped peer, IPv4 block", "10.0.0.0/8", "::ffff:10.9.8.7", true},
    {"match: IPv4-compatible is not mapped", "127.0.0.1", "::127.0.0.1", false},
    {"match: IPv6 loopback", "::1", "::1", true},
    {"match: IPv6 loopback is not IPv4 loopback", "127.0.0.1", "::1", false},
    {"match: IPv4 loopback is not IPv6 loopback", "::1", "127.0.0.1", false},
    {"match: IPv6 /32, inside", "2001:db8::/32", "2001:db8:ffff::1", true},
    {"match: IPv6 /32, outside", "2001:db8::/32", "2001:db9::1", false},
    {"match: IPv6 /127, inside", "fd00::/127", "fd00::1", true},
    {"match: IPv6 /127, outside", "fd00::/127", "fd00::2", false},
    {"match: a mapped IPv6 block, IPv4 peer", "::ffff:10.0.0.0/104", "10.1.2.3", true},
    {"match: a mapped IPv6 block, other IPv4 peer", "::ffff:10.0.0.0/104", "11.1.2.3", false},
    {"match: ::/0 takes IPv4 peers too (as on a dual-stack socket)", "::/0", "192.0.2.1", true},
    {"match: the second entry", "10.0.0.0/8,::1", "::1", true},
    {"match: none of three", "10.0.0.0/8,::1,192.168.0.0/16", "172.16.0.1", false},
};
/* clang-format on */

static void test_match(void **state)
{
    const struct match_case *c = *state;
    struct cidr_list l;
    struct guard g;

    guard_open(&g, strlen(c->list));
    assert_int_equal(parse(c->list, &l, NULL, NULL, &g), 0);
    struct sockaddr_storage ss = addr(c->peer);
    bool got = cidr_list_match(&l, (const struct sockaddr *)&ss);
    if (got != c->want)
        fail_msg("%s: %s in %s: got %d", c->name, c->peer, c->list, got);
    guard_close(&g);
}

static void test_match_other_family(void **state)
{
    struct cidr_list l;
    struct sockaddr_storage ss;
    struct guard g;
    (void)state;

    guard_open(&g, 16);
    assert_int_equal(parse("::/0,0.0.0.0/0", &l, NULL, NULL, &g), 0);
    memset(&ss, 0, sizeof ss);
    ss.ss_family = AF_UNIX;
    assert_false(cidr_list_match(&l, (const struct sockaddr *)&ss));
    guard_close(&g);
}

int main(void)
{
    static struct unit_list l;

    UNIT_ADD_ROWS(&l, parse_cases, test_parse);
    unit_add(&l, "parse: at most CIDR_LIST_MAX entries", test_parse_cap, NULL);
    unit_add(&l, "parse: a NUL inside an entry", test_parse_nul, NULL);
    UNIT_ADD_ROWS(&l, match_cases, test_match);
    unit_add(&l, "match: a unix socket never matches", test_match_other_family, NULL);
    return unit_run("cidr", &l);
}
