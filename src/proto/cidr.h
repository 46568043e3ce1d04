/* cidr: lists of address blocks ("10.0.0.0/8,::1") and whether a peer's
 * address falls in one, for `--proxy-from`. Pure: no I/O, no allocation;
 * the text is (pointer, length) and needs no NUL.
 *
 * An IPv4 entry matches an IPv4 peer and an IPv4-mapped IPv6 peer
 * (::ffff:a.b.c.d, which is how a dual-stack socket shows IPv4 clients); an
 * IPv6 entry matches IPv6 peers, and IPv4 peers as their mapped form, so
 * ::/0 matches everyone, as it does on a dual-stack socket. */
#ifndef FERRY_PROTO_CIDR_H
#define FERRY_PROTO_CIDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define CIDR_LIST_MAX 32 /* entries in one list */

struct cidr {
    uint8_t addr[16]; /* network byte order; the first 4 bytes for IPv4 */
    uint8_t bits;     /* prefix length */
    bool v6;
};

struct cidr_list {
    size_t n;
    struct cidr v[CIDR_LIST_MAX];
};

/* Parses s[0..len): entries separated by single commas, each an IPv4 or
 * IPv6 address with an optional "/BITS" (0-32 or 0-128, decimal, no
 * leading zero); without one the entry is that one address. No spaces, no
 * empty entries. Returns 0, or on the first bad entry: -EINVAL (not an
 * address, or empty), -ERANGE (a bad prefix length), -EDOM (the address
 * has bits set past its prefix, as in 10.0.0.1/8), -E2BIG (more than
 * CIDR_LIST_MAX entries); *bad and *badlen (when not NULL) then point at
 * that entry in s. out is fully written only on success. */
int cidr_list_parse(const char *s, size_t len, struct cidr_list *out, const char **bad,
                    size_t *badlen);

/* True when sa (AF_INET or AF_INET6; any other family never matches) is
 * in one of l's blocks. */
bool cidr_list_match(const struct cidr_list *l, const struct sockaddr *sa);

#endif
