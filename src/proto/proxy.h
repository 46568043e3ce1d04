/* proxy: the PROXY protocol header (haproxy's proxy-protocol.txt, versions
 * 1 and 2) that a load balancer sends before the client's bytes, naming the
 * client it relays. Pure: no I/O, no allocation, the input is
 * (pointer, length) and is never read past its end.
 *
 * Version 1 is one text line, "PROXY TCP4 SRC DST SPORT DPORT\r\n" (or
 * TCP6, or "PROXY UNKNOWN ...\r\n"), at most 107 bytes. Version 2 is a
 * 12-byte signature, a version/command byte, a family/transport byte, a
 * 16-bit length and that many bytes of addresses and TLVs. The parser is
 * strict: anything that is not exactly a header is PROXY_BAD, as early as
 * the bytes so far show it (so a peer that sends something else is turned
 * away at once, not after a timeout). */
#ifndef FERRY_PROTO_PROXY_H
#define FERRY_PROTO_PROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#define PROXY_V1_MAX 107  /* the longest version 1 line, CRLF included */
#define PROXY_V2_FIXED 16 /* signature, version/command, family, length */
#define PROXY_SIG_V2_LEN 12

enum proxy_result {
    PROXY_OK,   /* a whole, valid header: see struct proxy_header */
    PROXY_MORE, /* a valid beginning of a header: wait for more bytes */
    PROXY_BAD,  /* not a header, or a malformed one */
};

struct proxy_header {
    size_t len;  /* bytes the header takes; the proxied bytes follow */
    int version; /* 1 or 2 */
    /* The connection's own addresses stand: version 2 LOCAL (the proxy's
     * health check), version 1 UNKNOWN, or a version 2 family or transport
     * other than TCP over IPv4 or IPv6. src and dst are then zeroed. */
    bool local;
    struct sockaddr_storage src, dst; /* the client and the address it reached */
};

/* Parses the header at the start of buf[0..len). PROXY_OK fills *out;
 * after PROXY_MORE or PROXY_BAD *out is unspecified. A version 2 header
 * may be up to PROXY_V2_FIXED + 65535 bytes; callers bound what they wait
 * for themselves. */
enum proxy_result proxy_parse(const void *buf, size_t len, struct proxy_header *out);

enum proxy_sniff {
    PROXY_SNIFF_NONE,   /* these bytes do not begin a PROXY header */
    PROXY_SNIFF_PREFIX, /* too few bytes to tell (a proper prefix of a signature, or none) */
    PROXY_SNIFF_HEADER, /* they begin with "PROXY " or the version 2 signature */
};

/* Whether the first bytes of a connection look like a PROXY header, valid
 * or not: for a server that takes headers only from some peers to turn
 * away one from any other peer. Looks at no more than 12 bytes. */
enum proxy_sniff proxy_sniff(const void *buf, size_t len);

/* The first-bytes check of a connection from a peer that may not send a
 * header (every one, once net/srv took a trusted peer's): 1 when buf
 * cannot begin a header (go on; *done is set so the check is not made
 * again), 0 when it may still (wait for the byte that tells: at most 11
 * are held), -EPROTO when it begins one (close the connection). */
int proxy_refuse(const void *buf, size_t len, bool *done);

#endif
