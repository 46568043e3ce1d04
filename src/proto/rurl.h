/* rurl: the Redis URL of `ferry chat -l --redis`, redis://HOST[:PORT][/ROOM].
 *
 * HOST is a name, an IPv4 address or a bracketed IPv6 address; PORT
 * defaults to 6379; ROOM (1 to RURL_ROOM_MAX of A-Z a-z 0-9 . _ -) names
 * the room every broker on that Redis shares, "ferry" when absent. A user
 * or password, a query or a fragment is refused (ferry sends no AUTH), and
 * so is rediss:// (no TLS to Redis).
 *
 * Pure: no I/O, no allocation; the results point into the caller's string. */
#ifndef FERRY_PROTO_RURL_H
#define FERRY_PROTO_RURL_H

#include <stddef.h>
#include <stdint.h>

#define RURL_DEFAULT_PORT 6379
#define RURL_DEFAULT_ROOM "ferry"
#define RURL_HOST_MAX 253
#define RURL_ROOM_MAX 64

struct rurl {
    const char *host; /* without brackets; not NUL-terminated */
    size_t host_len;
    uint16_t port;
    const char *room; /* into s, or the static RURL_DEFAULT_ROOM */
    size_t room_len;
};

/* Parses s[0..len). Returns 0 with *out filled, -ENOTSUP for what is well
 * formed but not supported (rediss://, a user or password), or -EINVAL;
 * *out is untouched on error. */
int rurl_parse(const char *s, size_t len, struct rurl *out);

#endif
