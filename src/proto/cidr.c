#include "proto/cidr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "proto/lex.h"

/* The longest address text inet_pton can take (IPv6 with an embedded IPv4
 * part), with room to notice one that is longer. */
#define ADDR_TEXT_MAX 46

/* True when the first bits of a and b agree. */
static bool prefix_equal(const uint8_t *a, const uint8_t *b, unsigned bits)
{
    unsigned whole = bits / 8, rest = bits % 8;

    if (memcmp(a, b, whole) != 0)
        return false;
    if (rest == 0)
        return true;
    uint8_t mask = (uint8_t)(0xffu << (8 - rest));
    return (a[whole] & mask) == (b[whole] & mask);
}

/* True when a has a bit set past the first bits of its size bytes. */
static bool host_bits_set(const uint8_t *a, unsigned bits, unsigned size)
{
    for (unsigned i = bits; i < size * 8; i++)
        if (a[i / 8] & (0x80u >> (i % 8)))
            return true;
    return false;
}

static int parse_entry(const char *s, size_t len, struct cidr *out)
{
    const char *slash = memchr(s, '/', len);
    size_t alen = slash != NULL ? (size_t)(slash - s) : len;
    char text[ADDR_TEXT_MAX + 1];

    /* inet_pton would stop at a NUL and take what came before it */
    if (alen == 0 || alen > ADDR_TEXT_MAX || memchr(s, '\0', alen) != NULL)
        return -EINVAL;
    memcpy(text, s, alen);
    text[alen] = '\0';
    memset(out, 0, sizeof *out);
    if (inet_pton(AF_INET, text, out->addr) == 1) {
        out->v6 = false;
    } else if (inet_pton(AF_INET6, text, out->addr) == 1) {
        out->v6 = true;
    } else {
        return -EINVAL;
    }
    unsigned max = out->v6 ? 128 : 32;
    out->bits = (uint8_t)max;
    if (slash != NULL) {
        const char *b = slash + 1;
        size_t blen = len - alen - 1, pos = 0;
        uint64_t v;
        /* Digits only, no leading zero: "/08" is more likely a typo than 8. */
        if (blen == 0 || (blen > 1 && b[0] == '0') || lex_decimal(b, blen, &pos, max, &v) < 0 ||
            pos != blen)
            return -ERANGE;
        out->bits = (uint8_t)v;
    }
    if (host_bits_set(out->addr, out->bits, out->v6 ? 16 : 4))
        return -EDOM;
    return 0;
}

int cidr_list_parse(const char *s, size_t len, struct cidr_list *out, const char **bad,
                    size_t *badlen)
{
    struct cidr_list l;
    size_t start = 0;

    l.n = 0;
    for (;;) {
        const char *comma = memchr(s + start, ',', len - start);
        size_t end = comma != NULL ? (size_t)(comma - s) : len;
        int rc = l.n == CIDR_LIST_MAX ? -E2BIG : parse_entry(s + start, end - start, &l.v[l.n]);
        if (rc < 0) {
            if (bad != NULL)
                *bad = s + start;
            if (badlen != NULL)
                *badlen = end - start;
            return rc;
        }
        l.n++;
        if (comma == NULL)
            break;
        start = end + 1;
    }
    *out = l;
    return 0;
}

bool cidr_list_match(const struct cidr_list *l, const struct sockaddr *sa)
{
    uint8_t v4[4], v6[16];
    bool has_v4 = false;

    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        memcpy(v4, &in->sin_addr, 4);
        /* ::ffff:a.b.c.d, for the IPv6 entries */
        memset(v6, 0, 10);
        v6[10] = v6[11] = 0xff;
        memcpy(v6 + 12, v4, 4);
        has_v4 = true;
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        memcpy(v6, &in6->sin6_addr, 16);
        if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
            memcpy(v4, v6 + 12, 4);
            has_v4 = true;
        }
    } else {
        return false;
    }
    for (size_t i = 0; i < l->n; i++) {
        const struct cidr *c = &l->v[i];
        if (c->v6 ? prefix_equal(c->addr, v6, c->bits)
                  : has_v4 && prefix_equal(c->addr, v4, c->bits))
            return true;
    }
    return false;
}
