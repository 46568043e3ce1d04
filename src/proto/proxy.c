#include "proto/proxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>

#include "proto/lex.h"

static const char sig_v1[] = "PROXY ";
#define SIG_V1_LEN 6
static const unsigned char sig_v2[PROXY_SIG_V2_LEN] = {0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d,
                                                       0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a};

#define V2_CMD_LOCAL 0x20
#define V2_CMD_PROXY 0x21
#define V2_TCP4 0x11
#define V2_TCP6 0x21

/* True when p[0..n) is the beginning of (or all of) want[0..wlen). */
static bool starts(const char *p, size_t n, const char *want, size_t wlen)
{
    return memcmp(p, want, n < wlen ? n : wlen) == 0;
}

static bool is_hex(char c)
{
    return lex_hex_digit(c) >= 0;
}

/* ---- version 1 ---------------------------------------------------------- */

/* True when p[0..n), which holds no CR or LF, can still begin a valid line:
 * "PROXY ", a protocol, then only the bytes its fields may hold. */
static bool v1_prefix(const char *p, size_t n)
{
    if (!starts(p, n, sig_v1, SIG_V1_LEN))
        return false;
    if (n <= SIG_V1_LEN)
        return true;
    p += SIG_V1_LEN;
    n -= SIG_V1_LEN;
    if (starts(p, n, "UNKNOWN", 7))
        return n <= 7 || p[7] == ' '; /* then anything up to the CRLF */
    bool v4 = starts(p, n, "TCP4 ", 5), v6 = starts(p, n, "TCP6 ", 5);
    if (!v4 && !v6)
        return false;
    if (n <= 5)
        return true;
    int spaces = 0;
    for (size_t i = 5; i < n; i++) {
        char c = p[i];
        if (c == ' ') {
            /* four fields, one space between each */
            if (p[i - 1] == ' ' || ++spaces > 3)
                return false;
        } else if (!(c >= '0' && c <= '9') && c != '.' && !(v6 && (is_hex(c) || c == ':'))) {
            return false;
        }
    }
    return true;
}

/* A port in p[0..n): decimal, 0 to 65535, no leading zero. */
static bool v1_port(const char *p, size_t n, uint16_t *port)
{
    if (n > 1 && p[0] == '0')
        return false;
    return lex_port(p, n, true, port) == 0;
}

/* An address of family af in p[0..n) into sa with port. */
static bool v1_addr(const char *p, size_t n, int af, struct sockaddr_storage *sa)
{
    char text[INET6_ADDRSTRLEN];

    /* inet_pton would stop at a NUL and take what came before it */
    if (n == 0 || n >= sizeof text || memchr(p, '\0', n) != NULL)
        return false;
    memcpy(text, p, n);
    text[n] = '\0';
    memset(sa, 0, sizeof *sa);
    if (af == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)sa;
        in->sin_family = AF_INET;
        return inet_pton(AF_INET, text, &in->sin_addr) == 1;
    }
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)sa;
    in6->sin6_family = AF_INET6;
    return inet_pton(AF_INET6, text, &in6->sin6_addr) == 1;
}

static void set_port(struct sockaddr_storage *sa, uint16_t port)
{
    if (sa->ss_family == AF_INET)
        ((struct sockaddr_in *)sa)->sin_port = htons(port);
    else
        ((struct sockaddr_in6 *)sa)->sin6_port = htons(port);
}

/* The whole line p[0..n), CRLF removed; it holds no CR or LF. */
static bool v1_line(const char *p, size_t n, struct proxy_header *out)
{
    if (n < SIG_V1_LEN || memcmp(p, sig_v1, SIG_V1_LEN) != 0)
        return false;
    p += SIG_V1_LEN;
    n -= SIG_V1_LEN;
    if (n >= 7 && memcmp(p, "UNKNOWN", 7) == 0 && (n == 7 || p[7] == ' ')) {
        out->local = true; /* whatever follows is to be ignored */
        return true;
    }
    int af;
    if (n >= 5 && memcmp(p, "TCP4 ", 5) == 0)
        af = AF_INET;
    else if (n >= 5 && memcmp(p, "TCP6 ", 5) == 0)
        af = AF_INET6;
    else
        return false;
    p += 5;
    n -= 5;
    /* SRC DST SPORT DPORT: exactly four fields, one space apart */
    const char *f[4];
    size_t flen[4], k = 0, start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && p[i] != ' ')
            continue;
        if (k == 4 || i == start)
            return false;
        f[k] = p + start;
        flen[k++] = i - start;
        start = i + 1;
    }
    uint16_t sport, dport;
    if (k != 4 || !v1_addr(f[0], flen[0], af, &out->src) ||
        !v1_addr(f[1], flen[1], af, &out->dst) || !v1_port(f[2], flen[2], &sport) ||
        !v1_port(f[3], flen[3], &dport))
        return false;
    set_port(&out->src, sport);
    set_port(&out->dst, dport);
    return true;
}

static enum proxy_result v1_parse(const char *p, size_t n, struct proxy_header *out)
{
    size_t lim = n < PROXY_V1_MAX ? n : PROXY_V1_MAX;
    size_t i = 0;

    while (i < lim && p[i] != '\r' && p[i] != '\n')
        i++;
    if (i == lim) /* no end of line yet */
        return n < PROXY_V1_MAX && v1_prefix(p, n) ? PROXY_MORE : PROXY_BAD;
    if (p[i] == '\n') /* a bare LF never ends the line */
        return PROXY_BAD;
    if (i + 1 == n) /* the CR arrived, its LF may follow; not right after "PROXY " */
        return i > SIG_V1_LEN && i + 2 <= PROXY_V1_MAX && v1_prefix(p, i) ? PROXY_MORE : PROXY_BAD;
    if (p[i + 1] != '\n' || i + 2 > PROXY_V1_MAX)
        return PROXY_BAD;
    if (!v1_line(p, i, out))
        return PROXY_BAD;
    out->len = i + 2;
    out->version = 1;
    return PROXY_OK;
}

/* ---- version 2 ---------------------------------------------------------- */

/* The address block's size for a family/transport byte under the PROXY
 * command, 0 for UNSPEC, or -1 for a combination the spec does not list. */
static int v2_addr_size(unsigned fam)
{
    switch (fam) {
    case 0x00:
        return 0;
    case 0x11: /* TCP over IPv4 */
    case 0x12: /* UDP over IPv4 */
        return 12;
    case 0x21: /* TCP over IPv6 */
    case 0x22: /* UDP over IPv6 */
        return 36;
    case 0x31: /* UNIX stream */
    case 0x32: /* UNIX datagram */
        return 216;
    default:
        return -1;
    }
}

/* The TLVs in p[0..n): each a type, a 16-bit length and that many bytes,
 * filling the space exactly. Their contents are not used. */
static bool v2_tlvs(const unsigned char *p, size_t n)
{
    while (n > 0) {
        if (n < 3)
            return false;
        size_t vlen = (size_t)p[1] << 8 | p[2];
        if (vlen > n - 3)
            return false;
        p += 3 + vlen;
        n -= 3 + vlen;
    }
    return true;
}

static enum proxy_result v2_parse(const unsigned char *p, size_t n, struct proxy_header *out)
{
    if (memcmp(p, sig_v2, n < PROXY_SIG_V2_LEN ? n : PROXY_SIG_V2_LEN) != 0)
        return PROXY_BAD;
    if (n <= PROXY_SIG_V2_LEN)
        return PROXY_MORE;
    unsigned cmd = p[12];
    if (cmd != V2_CMD_LOCAL && cmd != V2_CMD_PROXY)
        return PROXY_BAD;
    if (n == 13)
        return PROXY_MORE;
    unsigned fam = p[13];
    int asize = v2_addr_size(fam);
    /* Each half has its own list of values; under PROXY only the listed
     * pairs mean something. LOCAL ignores the family but not bad values. */
    if ((fam >> 4) > 3 || (fam & 0xf) > 2 || (cmd == V2_CMD_PROXY && asize < 0))
        return PROXY_BAD;
    if (n < PROXY_V2_FIXED)
        return PROXY_MORE;
    size_t alen = (size_t)p[14] << 8 | p[15];
    if (cmd == V2_CMD_PROXY && alen < (size_t)asize)
        return PROXY_BAD;
    if (n - PROXY_V2_FIXED < alen)
        return PROXY_MORE;

    const unsigned char *a = p + PROXY_V2_FIXED;
    memset(&out->src, 0, sizeof out->src);
    memset(&out->dst, 0, sizeof out->dst);
    out->len = PROXY_V2_FIXED + alen;
    out->version = 2;
    out->local = cmd == V2_CMD_LOCAL || (fam != V2_TCP4 && fam != V2_TCP6);
    if (cmd == V2_CMD_LOCAL || fam == 0x00)
        return PROXY_OK; /* the whole block is to be skipped */
    if (!v2_tlvs(a + asize, alen - (size_t)asize))
        return PROXY_BAD;
    if (fam == V2_TCP4) {
        struct sockaddr_in *s = (struct sockaddr_in *)&out->src;
        struct sockaddr_in *d = (struct sockaddr_in *)&out->dst;
        s->sin_family = d->sin_family = AF_INET;
        memcpy(&s->sin_addr, a, 4);
        memcpy(&d->sin_addr, a + 4, 4);
        memcpy(&s->sin_port, a + 8, 2);
        memcpy(&d->sin_port, a + 10, 2);
    } else if (fam == V2_TCP6) {
        struct sockaddr_in6 *s = (struct sockaddr_in6 *)&out->src;
        struct sockaddr_in6 *d = (struct sockaddr_in6 *)&out->dst;
        s->sin6_family = d->sin6_family = AF_INET6;
        memcpy(&s->sin6_addr, a, 16);
        memcpy(&d->sin6_addr, a + 16, 16);
        memcpy(&s->sin6_port, a + 32, 2);
        memcpy(&d->sin6_port, a + 34, 2);
    }
    return PROXY_OK;
}

/* ---- both --------------------------------------------------------------- */

enum proxy_result proxy_parse(const void *buf, size_t len, struct proxy_header *out)
{
    const unsigned char *p = buf;

    if (len == 0)
        return PROXY_MORE;
    memset(out, 0, sizeof *out);
    if (p[0] == sig_v2[0])
        return v2_parse(p, len, out);
    return v1_parse(buf, len, out);
}

enum proxy_sniff proxy_sniff(const void *buf, size_t len)
{
    const char *p = buf;

    if (len >= SIG_V1_LEN && memcmp(p, sig_v1, SIG_V1_LEN) == 0)
        return PROXY_SNIFF_HEADER;
    if (len >= PROXY_SIG_V2_LEN && memcmp(p, sig_v2, PROXY_SIG_V2_LEN) == 0)
        return PROXY_SNIFF_HEADER;
    if ((len < SIG_V1_LEN && starts(p, len, sig_v1, SIG_V1_LEN)) ||
        (len < PROXY_SIG_V2_LEN && starts(p, len, (const char *)sig_v2, PROXY_SIG_V2_LEN)))
        return PROXY_SNIFF_PREFIX;
    return PROXY_SNIFF_NONE;
}

int proxy_refuse(const void *buf, size_t len, bool *done)
{
    enum proxy_sniff ps = proxy_sniff(buf, len);

    if (ps == PROXY_SNIFF_HEADER)
        return -EPROTO;
    if (ps == PROXY_SNIFF_PREFIX)
        return 0;
    *done = true;
    return 1;
}
