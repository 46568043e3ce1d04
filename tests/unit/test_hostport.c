/* Unit tests for proto/hostport: "HOST:PORT" as people write it. Each row is
 * parsed with its string (NUL included) against a guard page, so a read past
 * the terminator crashes. */
#include "unit.h"

#include <errno.h>
#include <stdio.h>

#include "proto/hostport.h"

#define NO_PORT 0

struct hp_case {
    const char *name;
    const char *in;
    uint16_t default_port; /* 0: the port is required */
    int want;              /* 0, -EINVAL or -ENAMETOOLONG */
    const char *host;      /* when want is 0 */
    uint16_t port;
};

/* clang-format off */
static const struct hp_case cases[] = {
    {"name and port", "h:1", NO_PORT, 0, "h", 1},
    {"longer name", "example.com:8080", NO_PORT, 0, "example.com", 8080},
    {"IPv4 and port", "127.0.0.1:9000", NO_PORT, 0, "127.0.0.1", 9000},
    {"highest port", "h:65535", NO_PORT, 0, "h", 65535},
    {"bracketed IPv6 and port", "[::1]:80", NO_PORT, 0, "::1", 80},
    {"bracketed full IPv6", "[2001:db8::1:2]:443", NO_PORT, 0, "2001:db8::1:2", 443},
    {"bracketed IPv6 with a zone", "[fe80::1%lo]:7", NO_PORT, 0, "fe80::1%lo", 7},
    {"port given with a default", "h:1", 9000, 0, "h", 1},
    {"bracketed IPv6 port given with a default", "[::1]:80", 9000, 0, "::1", 80},
    /* No port. */
    {"bare IPv6, default port", "::1", 9000, 0, "::1", 9000},
    {"bare IPv6, no default", "::1", NO_PORT, -EINVAL, NULL, 0},
    {"bare full IPv6, default port", "2001:db8::1", 9000, 0, "2001:db8::1", 9000},
    {"bracketed IPv6 without port, default", "[::1]", 9000, 0, "::1", 9000},
    {"bracketed IPv6 without port, no default", "[::1]", NO_PORT, -EINVAL, NULL, 0},
    {"name without port, default", "h", 9000, 0, "h", 9000},
    {"name without port, no default", "h", NO_PORT, -EINVAL, NULL, 0},
    /* Bad ports. */
    {"port 0", "h:0", NO_PORT, -EINVAL, NULL, 0},
    {"port 0 with a default", "h:0", 9000, -EINVAL, NULL, 0},
    {"port 65536", "h:65536", NO_PORT, -EINVAL, NULL, 0},
    {"port 99999", "h:99999", NO_PORT, -EINVAL, NULL, 0},
    {"port past 64 bits", "h:99999999999999999999999", NO_PORT, -EINVAL, NULL, 0},
    {"port x", "h:x", NO_PORT, -EINVAL, NULL, 0},
    {"port 8x", "h:8x", NO_PORT, -EINVAL, NULL, 0},
    {"port with a sign", "h:+80", NO_PORT, -EINVAL, NULL, 0},
    {"negative port", "h:-1", NO_PORT, -EINVAL, NULL, 0},
    {"port with a space before", "h: 80", NO_PORT, -EINVAL, NULL, 0},
    {"port with a space after", "h:80 ", NO_PORT, -EINVAL, NULL, 0},
    {"empty port", "h:", NO_PORT, -EINVAL, NULL, 0},
    {"empty port with a default", "h:", 9000, -EINVAL, NULL, 0},
    {"bracketed IPv6, port 0", "[::1]:0", NO_PORT, -EINVAL, NULL, 0},
    {"bracketed IPv6, port 65536", "[::1]:65536", NO_PORT, -EINVAL, NULL, 0},
    {"bracketed IPv6, port x", "[::1]:x", NO_PORT, -EINVAL, NULL, 0},
    {"bracketed IPv6, empty port", "[::1]:", 9000, -EINVAL, NULL, 0},
    /* Missing or malformed host. */
    {"empty string", "", NO_PORT, -EINVAL, NULL, 0},
    {"empty string with a default", "", 9000, -EINVAL, NULL, 0},
    {"missing host", ":80", NO_PORT, -EINVAL, NULL, 0},
    {"missing host with a default", ":80", 9000, -EINVAL, NULL, 0},
    {"colon alone", ":", 9000, -EINVAL, NULL, 0},
    {"empty brackets", "[]:80", NO_PORT, -EINVAL, NULL, 0},
    {"empty brackets, no port", "[]", 9000, -EINVAL, NULL, 0},
    {"unclosed bracket", "[::1:80", NO_PORT, -EINVAL, NULL, 0},
    {"unclosed bracket alone", "[", 9000, -EINVAL, NULL, 0},
    {"junk after the bracket", "[::1]x", 9000, -EINVAL, NULL, 0},
    {"junk between bracket and port", "[::1]x:80", NO_PORT, -EINVAL, NULL, 0},
};
/* clang-format on */

/* Parses c->in, placed with its NUL against the guard page. */
static int parse_guarded(const char *in, char *host, size_t hostsz, uint16_t *port,
                         uint16_t default_port)
{
    size_t len = strlen(in) + 1;
    struct guard g;

    guard_open(&g, len);
    int rc = hostport_parse(guard_put(&g, in, len), host, hostsz, port, default_port);
    guard_close(&g);
    return rc;
}

static void test_parse(void **state)
{
    const struct hp_case *c = *state;
    char host[256];
    uint16_t port = 0;

    memset(host, 0x5a, sizeof host);
    int rc = parse_guarded(c->in, host, sizeof host, &port, c->default_port);
    if (rc != c->want)
        fail_msg("%s: \"%s\" gave %d, want %d", c->name, c->in, rc, c->want);
    if (rc != 0)
        return;
    if (memchr(host, '\0', sizeof host) == NULL || strcmp(host, c->host) != 0)
        fail_msg("%s: host \"%.*s\", want \"%s\"", c->name, (int)strnlen(host, sizeof host), host,
                 c->host);
    if (port != c->port)
        fail_msg("%s: port %u, want %u", c->name, port, c->port);
}

/* The host buffer: a host that fills it exactly (with its NUL) fits; one
 * byte more is -ENAMETOOLONG, and nothing is written past the buffer. */
struct size_case {
    const char *name;
    const char *in;
    size_t hostsz;
    int want;
};

/* clang-format off */
static const struct size_case size_cases[] = {
    {"host fills the buffer", "abc:1", 4, 0},
    {"host one byte too long", "abcd:1", 4, -ENAMETOOLONG},
    {"bracketed host fills the buffer", "[::1]:80", 4, 0},
    {"bracketed host one byte too long", "[::1]:80", 3, -ENAMETOOLONG},
    {"bare IPv6 one byte too long", "::1", 3, -ENAMETOOLONG},
    {"long name", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa:1", 8,
     -ENAMETOOLONG},
};
/* clang-format on */

static void test_size(void **state)
{
    const struct size_case *c = *state;
    char host[32];
    uint16_t port = 0;

    assert_true(c->hostsz < sizeof host);
    memset(host, 0x5a, sizeof host);
    int rc = parse_guarded(c->in, host, c->hostsz, &port, 9000);
    if (rc != c->want)
        fail_msg("%s: \"%s\" with %zu bytes gave %d, want %d", c->name, c->in, c->hostsz, rc,
                 c->want);
    for (size_t i = c->hostsz; i < sizeof host; i++)
        if (host[i] != 0x5a)
            fail_msg("%s: byte %zu past the host buffer was written", c->name, i);
    if (rc == 0 && host[strnlen(host, c->hostsz)] != '\0')
        fail_msg("%s: host not NUL-terminated", c->name);
}

/* Every port from 1 to 65535 round-trips. */
static void test_every_port(void **state)
{
    char in[16], host[8];
    uint16_t port;
    (void)state;

    for (unsigned p = 1; p <= 65535; p++) {
        snprintf(in, sizeof in, "h:%u", p);
        port = 0;
        if (hostport_parse(in, host, sizeof host, &port, 0) != 0 || port != p)
            fail_msg("\"%s\" gave port %u", in, port);
    }
}

/* hostport_format: brackets exactly around a host with a colon, and a
 * buffer too small is cut, NUL-terminated, with the length it needed. */
struct fmt_case {
    const char *name;
    const char *host;
    uint16_t port;
    size_t outsz;
    const char *want;
    size_t need;
};

/* clang-format off */
static const struct fmt_case fmt_cases[] = {
    {"IPv4", "127.0.0.1", 8080, 64, "127.0.0.1:8080", 14},
    {"IPv6 loopback", "::1", 8080, 64, "[::1]:8080", 10},
    {"IPv6 full", "2001:db8::1", 443, 64, "[2001:db8::1]:443", 17},
    {"name", "example.org", 80, 64, "example.org:80", 14},
    {"highest port", "h", 65535, 64, "h:65535", 7},
    {"cut short", "::1", 8080, 5, "[::1", 10},
    {"one byte", "h", 1, 1, "", 3},
};
/* clang-format on */

static void test_format(void **state)
{
    const struct fmt_case *c = *state;
    char out[64];

    memset(out, 0x5a, sizeof out);
    size_t need = hostport_format(c->host, c->port, out, c->outsz);
    if (strcmp(out, c->want) != 0 || need != c->need)
        fail_msg("%s: \"%s\" (%zu), want \"%s\" (%zu)", c->name, out, need, c->want, c->need);
    for (size_t i = c->outsz; i < sizeof out; i++)
        if (out[i] != 0x5a)
            fail_msg("%s: byte %zu past the buffer was written", c->name, i);
}

int main(void)
{
    static struct unit_list l;

    UNIT_ADD_ROWS(&l, cases, test_parse);
    UNIT_ADD_ROWS(&l, size_cases, test_size);
    UNIT_ADD_ROWS(&l, fmt_cases, test_format);
    unit_add(&l, "every port from 1 to 65535", test_every_port, NULL);
    return unit_run("hostport", &l);
}
