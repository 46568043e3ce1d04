/* hostport: "HOST:PORT" as people write it. Pure. */
#ifndef FERRY_PROTO_HOSTPORT_H
#define FERRY_PROTO_HOSTPORT_H

#include <stddef.h>
#include <stdint.h>

/* Splits s into a host (copied NUL-terminated into host, hostsz bytes; the
 * brackets of "[::1]:80" removed) and a port from 1 to 65535. A missing
 * ":PORT" gives default_port when it is nonzero. Returns 0, or -EINVAL for
 * a malformed string, or -ENAMETOOLONG. */
int hostport_parse(const char *s, char *host, size_t hostsz, uint16_t *port,
                   uint16_t default_port);

/* Writes host and port as people read them and as URLs write them:
 * "127.0.0.1:8080", "example.org:80", "[::1]:8080" (an IPv6 literal, any
 * host with a colon, in brackets). Always NUL-terminates out (outsz > 0);
 * returns the length it needed, as snprintf does. */
size_t hostport_format(const char *host, uint16_t port, char *out, size_t outsz);

#endif
