/* Unit tests for proto/proxy: PROXY protocol headers, versions 1 and 2.
 * Every valid header is parsed whole, with bytes after it, and at every
 * truncation (which must ask for more, never succeed or fail); every bad
 * one fails, none of its prefixes succeeds, and where the fault shows early
 * the parser says so by then. Inputs sit against a guard page. */
#include "unit.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>

#include "proto/proxy.h"

#define SIG "\r\n\r\n\0\r\nQUIT\n"
/* 10.1.2.3:5555 to 127.0.0.1:80 */
#define V4_ADDRS "\x0a\x01\x02\x03\x7f\x00\x00\x01\x15\xb3\x00\x50"
#define V6_ADDRS                                                                                   \
    "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01" /* 2001:db8::1 */                                 \
    "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x01"         /* ::1 */                                         \
    "\xff\xff\x00\x00"                           /* 65535, 0 */

struct ok_case {
    const char *name;
    const char *in;
    size_t len; /* 0: strlen(in) */
    int version;
    bool local;
    const char *src; /* when not local */
    unsigned sport;
    const char *dst;
    unsigned dport;
};

#define MAX6 "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"

/* clang-format off */
static const struct ok_case ok_cases[] = {
    {"v1: TCP4", "PROXY TCP4 10.1.2.3 127.0.0.1 5555 80\r\n", 0, 1, false,
     "10.1.2.3", 5555, "127.0.0.1", 80},
    {"v1: TCP6", "PROXY TCP6 2001:db8::1 ::1 65535 0\r\n", 0, 1, false,
     "2001:db8::1", 65535, "::1", 0},
    {"v1: TCP6 with an IPv4-mapped address", "PROXY TCP6 ::ffff:10.1.2.3 ::1 1 2\r\n", 0, 1, false,
     "::ffff:10.1.2.3", 1, "::1", 2},
    {"v1: TCP4 zero addresses and ports", "PROXY TCP4 0.0.0.0 0.0.0.0 0 0\r\n", 0, 1, false,
     "0.0.0.0", 0, "0.0.0.0", 0},
    {"v1: TCP4 longest (56 bytes)", "PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n",
     0, 1, false, "255.255.255.255", 65535, "255.255.255.255", 65535},
    {"v1: TCP6 longest (104 bytes)", "PROXY TCP6 " MAX6 " " MAX6 " 65535 65535\r\n", 0, 1, false,
     MAX6, 65535, MAX6, 65535},
    {"v1: TCP6 upper-case hex", "PROXY TCP6 2001:DB8::A ::1 80 80\r\n", 0, 1, false,
     "2001:db8::a", 80, "::1", 80},
    {"v1: UNKNOWN short form", "PROXY UNKNOWN\r\n", 0, 1, true, NULL, 0, NULL, 0},
    {"v1: UNKNOWN longest (107 bytes)", "PROXY UNKNOWN " MAX6 " " MAX6 " 65535 65535\r\n", 0, 1,
     true, NULL, 0, NULL, 0},
    {"v1: UNKNOWN with anything before the CRLF", "PROXY UNKNOWN x\ty\x01z\r\n", 0, 1, true,
     NULL, 0, NULL, 0},
    {"v2: TCP4", SIG "\x21\x11\x00\x0c" V4_ADDRS, 28, 2, false,
     "10.1.2.3", 5555, "127.0.0.1", 80},
    {"v2: TCP6", SIG "\x21\x21\x00\x24" V6_ADDRS, 52, 2, false,
     "2001:db8::1", 65535, "::1", 0},
    {"v2: TCP4 with TLVs (NOOP, AUTHORITY, empty)",
     SIG "\x21\x11\x00\x1a" V4_ADDRS "\x04\x00\x02zz" "\x02\x00\x03" "a.b" "\xe0\x00\x00", 42, 2,
     false, "10.1.2.3", 5555, "127.0.0.1", 80},
    {"v2: LOCAL, no addresses", SIG "\x20\x00\x00\x00", 16, 2, true, NULL, 0, NULL, 0},
    {"v2: LOCAL with TCP4 addresses (ignored)", SIG "\x20\x11\x00\x0c" V4_ADDRS, 28, 2, true,
     NULL, 0, NULL, 0},
    {"v2: LOCAL with a block shorter than its family's (ignored)", SIG "\x20\x21\x00\x02zz", 18,
     2, true, NULL, 0, NULL, 0},
    {"v2: PROXY UNSPEC", SIG "\x21\x00\x00\x00", 16, 2, true, NULL, 0, NULL, 0},
    {"v2: PROXY UNSPEC with bytes (skipped)", SIG "\x21\x00\x00\x03xyz", 19, 2, true,
     NULL, 0, NULL, 0},
    {"v2: UDP over IPv4 falls back to the real peer", SIG "\x21\x12\x00\x0c" V4_ADDRS, 28, 2, true,
     NULL, 0, NULL, 0},
    {"v2: UDP over IPv6 falls back to the real peer", SIG "\x21\x22\x00\x24" V6_ADDRS, 52, 2, true,
     NULL, 0, NULL, 0},
};
/* clang-format on */

static size_t ok_len(const struct ok_case *c)
{
    return c->len ? c->len : strlen(c->in);
}

static void check_addr(const char *what, const struct sockaddr_storage *sa, const char *want,
                       unsigned port)
{
    char got[INET6_ADDRSTRLEN] = "?";
    unsigned gport = 0;

    if (sa->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &in->sin_addr, got, sizeof got);
        gport = ntohs(in->sin_port);
    } else if (sa->ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, got, sizeof got);
        gport = ntohs(in6->sin6_port);
    }
    if (strcmp(got, want) != 0 || gport != port)
        fail_msg("%s: got %s port %u, want %s port %u", what, got, gport, want, port);
}

static void check_ok(const struct ok_case *c, const struct proxy_header *h)
{
    assert_int_equal(h->len, ok_len(c));
    assert_int_equal(h->version, c->version);
    assert_int_equal(h->local, c->local);
    if (c->local) {
        assert_int_equal(h->src.ss_family, 0);
        return;
    }
    check_addr("src", &h->src, c->src, c->sport);
    check_addr("dst", &h->dst, c->dst, c->dport);
}

static void test_ok(void **state)
{
    const struct ok_case *c = *state;
    size_t len = ok_len(c);
    struct proxy_header h;
    struct guard g;

    guard_open(&g, len);
    enum proxy_result r = proxy_parse(guard_put(&g, c->in, len), len, &h);
    if (r != PROXY_OK)
        fail_msg("%s: got %d, want PROXY_OK", c->name, (int)r);
    check_ok(c, &h);
    guard_close(&g);
}

/* What follows a header is not the header's: the client's first bytes. */
static void test_ok_with_data_after(void **state)
{
    const struct ok_case *c = *state;
    static const char after[] = "GET / HTTP/1.1\r\n\r\n\r\n\r\n\0\r\nQUIT\n";
    char in[256];
    size_t len = ok_len(c);
    struct proxy_header h;
    struct guard g;

    assert_true(len + sizeof after <= sizeof in);
    memcpy(in, c->in, len);
    memcpy(in + len, after, sizeof after);
    guard_open(&g, len + sizeof after);
    assert_int_equal(proxy_parse(guard_put(&g, in, len + sizeof after), len + sizeof after, &h),
                     PROXY_OK);
    check_ok(c, &h);
    guard_close(&g);
}

/* Every proper prefix of a valid header is PROXY_MORE. */
static void test_ok_truncated(void **state)
{
    const struct ok_case *c = *state;
    size_t len = ok_len(c);
    struct proxy_header h;
    struct guard g;

    guard_open(&g, len);
    for (size_t k = 0; k < len; k++) {
        enum proxy_result r = proxy_parse(guard_put(&g, c->in, k), k, &h);
        if (r != PROXY_MORE)
            fail_msg("%s: the first %zu of %zu bytes: got %d, want PROXY_MORE", c->name, k, len,
                     (int)r);
    }
    guard_close(&g);
}

struct bad_case {
    const char *name;
    const char *in;
    size_t len;    /* 0: strlen(in) */
    size_t bad_by; /* PROXY_BAD already for this prefix and longer; 0: only the whole */
};

#define V1OK(a, b, p, q) "PROXY TCP4 " a " " b " " p " " q "\r\n"

/* clang-format off */
static const struct bad_case bad_cases[] = {
    {"v1: not a header at all", "GET / HTTP/1.1\r\n", 0, 1},
    {"v1: lower-case proxy", "proxy TCP4 10.1.2.3 127.0.0.1 1 2\r\n", 0, 1},
    {"v1: no space after PROXY", "PROXYTCP4 10.1.2.3 127.0.0.1 1 2\r\n", 0, 6},
    {"v1: two spaces after PROXY", "PROXY  TCP4 10.1.2.3 127.0.0.1 1 2\r\n", 0, 7},
    {"v1: PROXY and CRLF", "PROXY\r\n", 0, 6},
    {"v1: PROXY, space and CRLF", "PROXY \r\n", 0, 0},
    {"v1: lower-case protocol", "PROXY tcp4 10.1.2.3 127.0.0.1 1 2\r\n", 0, 7},
    {"v1: unknown protocol TCP5", "PROXY TCP5 10.1.2.3 127.0.0.1 1 2\r\n", 0, 10},
    {"v1: protocol UDP4", "PROXY UDP4 10.1.2.3 127.0.0.1 1 2\r\n", 0, 8},
    {"v1: TCP4 without addresses", "PROXY TCP4\r\n", 0, 0},
    {"v1: TCP4 and a space only", "PROXY TCP4 \r\n", 0, 0},
    {"v1: UNKNOWNX", "PROXY UNKNOWNX\r\n", 0, 14},
    {"v1: bare LF ends the line", "PROXY TCP4 10.1.2.3 127.0.0.1 1 2\n", 0, 0},
    {"v1: bare LF after UNKNOWN", "PROXY UNKNOWN\n", 0, 0},
    {"v1: LF inside UNKNOWN's rest", "PROXY UNKNOWN a\nb\r\n", 0, 16},
    {"v1: CR not followed by LF", "PROXY TCP4 10.1.2.3 127.0.0.1 1 2\rX\r\n", 0, 35},
    {"v1: CR CR LF", "PROXY UNKNOWN\r\r\n", 0, 15},
    {"v1: two spaces between fields", "PROXY TCP4 10.1.2.3  127.0.0.1 1 2\r\n", 0, 21},
    {"v1: three fields", "PROXY TCP4 10.1.2.3 127.0.0.1 1\r\n", 0, 0},
    {"v1: five fields", "PROXY TCP4 10.1.2.3 127.0.0.1 1 2 3\r\n", 0, 0},
    {"v1: a space before the CRLF", "PROXY TCP4 10.1.2.3 127.0.0.1 1 2 \r\n", 0, 0},
    {"v1: a tab between fields", "PROXY TCP4 10.1.2.3\t127.0.0.1 1 2\r\n", 0, 20},
    {"v1: source port 65536", V1OK("10.1.2.3", "127.0.0.1", "65536", "80"), 0, 0},
    {"v1: destination port 99999", V1OK("10.1.2.3", "127.0.0.1", "80", "99999"), 0, 0},
    {"v1: port with a leading zero", V1OK("10.1.2.3", "127.0.0.1", "080", "80"), 0, 0},
    {"v1: port 00", V1OK("10.1.2.3", "127.0.0.1", "00", "80"), 0, 0},
    {"v1: negative port", V1OK("10.1.2.3", "127.0.0.1", "-1", "80"), 0, 31},
    {"v1: port with a plus sign", V1OK("10.1.2.3", "127.0.0.1", "+80", "80"), 0, 31},
    {"v1: hexadecimal port", V1OK("10.1.2.3", "127.0.0.1", "0x50", "80"), 0, 32},
    {"v1: port far too long", V1OK("10.1.2.3", "127.0.0.1", "18446744073709551696", "80"), 0, 0},
    {"v1: IPv4 with three parts", V1OK("10.1.2", "127.0.0.1", "1", "2"), 0, 0},
    {"v1: IPv4 with five parts", V1OK("10.1.2.3.4", "127.0.0.1", "1", "2"), 0, 0},
    {"v1: IPv4 part over 255", V1OK("10.1.2.256", "127.0.0.1", "1", "2"), 0, 0},
    {"v1: IPv4 with a leading zero", V1OK("010.1.2.3", "127.0.0.1", "1", "2"), 0, 0},
    {"v1: IPv4 empty part", V1OK("10..2.3", "127.0.0.1", "1", "2"), 0, 0},
    {"v1: IPv4 destination bad", V1OK("10.1.2.3", "127.0.0.x", "1", "2"), 0, 29},
    {"v1: TCP4 with IPv6 addresses", "PROXY TCP4 ::1 ::1 1 2\r\n", 0, 12},
    {"v1: TCP6 with IPv4 addresses", "PROXY TCP6 10.1.2.3 127.0.0.1 1 2\r\n", 0, 0},
    {"v1: TCP6 with two double colons", "PROXY TCP6 2001::db8::1 ::1 1 2\r\n", 0, 0},
    {"v1: TCP6 with a zone", "PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n", 0, 19},
    {"v1: TCP6 group of five digits", "PROXY TCP6 2001:db8::12345 ::1 1 2\r\n", 0, 0},
    {"v1: TCP6 address too long", "PROXY TCP6 0000:0000:0000:0000:0000:0000:0000:0000:0 ::1 1 2\r\n",
     0, 0},
    {"v1: NUL inside an IPv6 address", "PROXY TCP6 2001::d\0b::1 ::1 1 2\r\n", 33, 19},
    {"v1: NUL after an IPv4 address", "PROXY TCP4 10.1.2.3\0 127.0.0.1 1 2\r\n", 36, 20},
    {"v1: NUL in a port", "PROXY TCP4 10.1.2.3 127.0.0.1 1 2\0\r\n", 36, 34},
    {"v1: 107 bytes and no CRLF", "PROXY UNKNOWN " MAX6 " " MAX6 " 65535 6553555", 0, 107},
    {"v1: UNKNOWN line of 108 bytes", "PROXY UNKNOWN " MAX6 " " MAX6 " 65535 655355\r\n", 0, 107},
    {"v2: wrong signature byte", "\r\n\r\n\0\r\nQUIT\r\x21\x11\x00\x0c" V4_ADDRS, 28, 12},
    {"v2: signature NUL missing", "\r\n\r\n\x01\r\nQUIT\n\x21\x11\x00\x0c" V4_ADDRS, 28, 5},
    {"v2: version 1", SIG "\x11\x11\x00\x0c" V4_ADDRS, 28, 13},
    {"v2: version 3", SIG "\x31\x11\x00\x0c" V4_ADDRS, 28, 13},
    {"v2: version 0", SIG "\x01\x11\x00\x0c" V4_ADDRS, 28, 13},
    {"v2: command 2", SIG "\x22\x11\x00\x0c" V4_ADDRS, 28, 13},
    {"v2: command 15", SIG "\x2f\x11\x00\x0c" V4_ADDRS, 28, 13},
    {"v2: family 4", SIG "\x21\x41\x00\x0c" V4_ADDRS, 28, 14},
    {"v2: family 15 under LOCAL", SIG "\x20\xf0\x00\x00", 16, 14},
    {"v2: transport 3", SIG "\x21\x13\x00\x0c" V4_ADDRS, 28, 14},
    {"v2: transport 3 under LOCAL", SIG "\x20\x03\x00\x00", 16, 14},
    {"v2: IPv4 with no transport", SIG "\x21\x10\x00\x0c" V4_ADDRS, 28, 14},
    {"v2: stream with no family", SIG "\x21\x01\x00\x0c" V4_ADDRS, 28, 14},
    {"v2: TCP4 length 11", SIG "\x21\x11\x00\x0b" V4_ADDRS, 27, 16},
    {"v2: TCP4 length 0", SIG "\x21\x11\x00\x00", 16, 16},
    {"v2: TCP6 length 35", SIG "\x21\x21\x00\x23" V6_ADDRS, 51, 16},
    {"v2: TCP6 length 12", SIG "\x21\x21\x00\x0c" V4_ADDRS, 28, 16},
    {"v2: UNIX length 215", SIG "\x21\x31\x00\xd7", 16, 16},
    {"v2: two bytes after the addresses", SIG "\x21\x11\x00\x0e" V4_ADDRS "\x04\x00", 30, 0},
    {"v2: a TLV longer than the header", SIG "\x21\x11\x00\x11" V4_ADDRS "\x04\x00\x05zz", 33, 0},
    {"v2: a TLV one byte short", SIG "\x21\x11\x00\x13" V4_ADDRS "\x02\x00\x03" "ab" "\x04\x00\x00"
     "\x04", 35, 0},
};
/* clang-format on */

static void test_bad(void **state)
{
    const struct bad_case *c = *state;
    size_t len = c->len ? c->len : strlen(c->in);
    struct proxy_header h;
    struct guard g;

    guard_open(&g, len);
    for (size_t k = 0; k <= len; k++) {
        enum proxy_result r = proxy_parse(guard_put(&g, c->in, k), k, &h);
        if (r == PROXY_OK)
            fail_msg("%s: the first %zu of %zu bytes parse as a header", c->name, k, len);
        if (k == len && r != PROXY_BAD)
            fail_msg("%s: the whole input: got %d, want PROXY_BAD", c->name, (int)r);
        if (c->bad_by > 0 && k >= c->bad_by && r != PROXY_BAD)
            fail_msg("%s: the first %zu bytes: got %d, want PROXY_BAD from %zu on", c->name, k,
                     (int)r, c->bad_by);
    }
    guard_close(&g);
}

/* The bad_by marks are tight: one byte less is still PROXY_MORE, so the
 * table says where each fault is seen, not merely that it is. */
static void test_bad_not_too_early(void **state)
{
    const struct bad_case *c = *state;
    struct proxy_header h;
    struct guard g;

    if (c->bad_by == 0)
        return;
    guard_open(&g, c->bad_by);
    enum proxy_result r = proxy_parse(guard_put(&g, c->in, c->bad_by - 1), c->bad_by - 1, &h);
    if (r != PROXY_MORE)
        fail_msg("%s: the first %zu bytes: got %d, want PROXY_MORE", c->name, c->bad_by - 1,
                 (int)r);
    guard_close(&g);
}

/* A version 2 header may be long: its length is believed, and the parser
 * asks for more until all of it is there. */
static void test_v2_long_header(void **state)
{
    static unsigned char in[PROXY_V2_FIXED + 65535];
    struct proxy_header h;
    (void)state;

    memcpy(in, SIG "\x21\x11\xff\xff" V4_ADDRS, 28);
    /* one TLV filling the rest: 65535 - 12 - 3 bytes of value */
    size_t vlen = 65535 - 12 - 3;
    in[28] = 0x04;
    in[29] = (unsigned char)(vlen >> 8);
    in[30] = (unsigned char)vlen;
    memset(in + 31, 'x', vlen);
    assert_int_equal(proxy_parse(in, 28, &h), PROXY_MORE);
    assert_int_equal(proxy_parse(in, sizeof in - 1, &h), PROXY_MORE);
    assert_int_equal(proxy_parse(in, sizeof in, &h), PROXY_OK);
    assert_int_equal(h.len, sizeof in);
    check_addr("src", &h.src, "10.1.2.3", 5555);
}

struct sniff_case {
    const char *name;
    const char *in;
    size_t len; /* 0: strlen(in) */
    enum proxy_sniff want;
};

/* clang-format off */
static const struct sniff_case sniff_cases[] = {
    {"sniff: nothing yet", "", 0, PROXY_SNIFF_PREFIX},
    {"sniff: P", "P", 0, PROXY_SNIFF_PREFIX},
    {"sniff: PROXY", "PROXY", 0, PROXY_SNIFF_PREFIX},
    {"sniff: PROXY and a space", "PROXY ", 0, PROXY_SNIFF_HEADER},
    {"sniff: a v1 header", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n", 0, PROXY_SNIFF_HEADER},
    {"sniff: a malformed v1 header", "PROXY garbage", 0, PROXY_SNIFF_HEADER},
    {"sniff: CR", "\r", 0, PROXY_SNIFF_PREFIX},
    {"sniff: CRLF", "\r\n", 0, PROXY_SNIFF_PREFIX},
    {"sniff: 11 bytes of the v2 signature", SIG, 11, PROXY_SNIFF_PREFIX},
    {"sniff: the v2 signature", SIG, 12, PROXY_SNIFF_HEADER},
    {"sniff: a v2 header", SIG "\x21\x11\x00\x0c" V4_ADDRS, 28, PROXY_SNIFF_HEADER},
    {"sniff: a v2 header with a bad version", SIG "\x71", 13, PROXY_SNIFF_HEADER},
    {"sniff: PROXY and a tab", "PROXY\t", 0, PROXY_SNIFF_NONE},
    {"sniff: PROXX", "PROXX", 0, PROXY_SNIFF_NONE},
    {"sniff: lower-case proxy", "proxy ", 0, PROXY_SNIFF_NONE},
    {"sniff: an HTTP request", "GET / HTTP/1.1\r\n", 0, PROXY_SNIFF_NONE},
    {"sniff: PUT", "PUT /x HTTP/1.1\r\n", 0, PROXY_SNIFF_NONE},
    {"sniff: a raw name", "a.txt", 0, PROXY_SNIFF_NONE},
    {"sniff: a chat line", "hello\n", 0, PROXY_SNIFF_NONE},
    {"sniff: an empty line and text", "\r\nx", 0, PROXY_SNIFF_NONE},
    {"sniff: two empty lines", "\r\n\r\n\n", 0, PROXY_SNIFF_NONE},
    {"sniff: a TLS ClientHello", "\x16\x03\x01\x02\x00", 0, PROXY_SNIFF_NONE},
};
/* clang-format on */

static void test_sniff(void **state)
{
    const struct sniff_case *c = *state;
    size_t len = c->len ? c->len : strlen(c->in);
    struct guard g;

    guard_open(&g, len);
    enum proxy_sniff got = proxy_sniff(guard_put(&g, c->in, len), len);
    if (got != c->want)
        fail_msg("%s: got %d, want %d", c->name, (int)got, (int)c->want);
    /* proxy_refuse says the same as the three outcomes an app acts on */
    bool done = false;
    int r = proxy_refuse(guard_put(&g, c->in, len), len, &done);
    int want_r = c->want == PROXY_SNIFF_HEADER ? -EPROTO : c->want == PROXY_SNIFF_PREFIX ? 0 : 1;
    if (r != want_r || done != (want_r == 1))
        fail_msg("%s: proxy_refuse gave %d (done %d), want %d", c->name, r, done, want_r);
    guard_close(&g);
}

/* Every valid header is seen by proxy_sniff once 12 bytes are there, and
 * no prefix of one is ever NONE. */
static void test_sniff_sees_every_header(void **state)
{
    struct guard g;
    (void)state;

    guard_open(&g, 256);
    for (size_t i = 0; i < ARRAY_LEN(ok_cases); i++) {
        const struct ok_case *c = &ok_cases[i];
        for (size_t k = 0; k <= ok_len(c); k++) {
            enum proxy_sniff got = proxy_sniff(guard_put(&g, c->in, k), k);
            if (got == PROXY_SNIFF_NONE || (k >= PROXY_SIG_V2_LEN && got != PROXY_SNIFF_HEADER))
                fail_msg("%s: the first %zu bytes: got %d", c->name, k, (int)got);
        }
    }
    guard_close(&g);
}

int main(void)
{
    static struct unit_list l;
    static char names[3][ARRAY_LEN(ok_cases)][128];
    static char bnames[ARRAY_LEN(bad_cases)][128];

    for (size_t i = 0; i < ARRAY_LEN(ok_cases); i++) {
        snprintf(names[0][i], sizeof names[0][i], "%s", ok_cases[i].name);
        snprintf(names[1][i], sizeof names[1][i], "%s, then data", ok_cases[i].name);
        snprintf(names[2][i], sizeof names[2][i], "%s, every truncation", ok_cases[i].name);
        unit_add(&l, names[0][i], test_ok, &ok_cases[i]);
        unit_add(&l, names[1][i], test_ok_with_data_after, &ok_cases[i]);
        unit_add(&l, names[2][i], test_ok_truncated, &ok_cases[i]);
    }
    UNIT_ADD_ROWS(&l, bad_cases, test_bad);
    for (size_t i = 0; i < ARRAY_LEN(bad_cases); i++) {
        snprintf(bnames[i], sizeof bnames[i], "%s: not seen too early", bad_cases[i].name);
        unit_add(&l, bnames[i], test_bad_not_too_early, &bad_cases[i]);
    }
    unit_add(&l, "v2: a 65551-byte header", test_v2_long_header, NULL);
    UNIT_ADD_ROWS(&l, sniff_cases, test_sniff);
    unit_add(&l, "sniff: every valid header, every prefix", test_sniff_sees_every_header, NULL);
    return unit_run("proxy", &l);
}
