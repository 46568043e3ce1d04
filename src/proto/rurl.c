#include "proto/rurl.h"

#include <errno.h>
#include <stdbool.h>
#include <strings.h>

#include "proto/lex.h"

static bool has_prefix(const char *s, size_t len, const char *p, size_t plen)
{
    return len >= plen && strncasecmp(s, p, plen) == 0;
}

static bool name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-' || c == '_';
}

static bool v6_char(char c)
{
    return lex_hex_digit(c) >= 0 || c == ':' || c == '.';
}

int rurl_parse(const char *s, size_t len, struct rurl *out)
{
    struct rurl u = {.port = RURL_DEFAULT_PORT};
    size_t i;

    if (has_prefix(s, len, "rediss://", 9))
        return -ENOTSUP;
    if (!has_prefix(s, len, "redis://", 8))
        return -EINVAL;
    i = 8;
    /* The authority ends at '/' or the end; an '@' in it is a user. */
    size_t auth_end = i;
    while (auth_end < len && s[auth_end] != '/') {
        if (s[auth_end] == '@')
            return -ENOTSUP;
        auth_end++;
    }
    if (i < auth_end && s[i] == '[') {
        size_t close = i + 1;
        while (close < auth_end && s[close] != ']') {
            if (!v6_char(s[close]))
                return -EINVAL;
            close++;
        }
        if (close == auth_end || close == i + 1)
            return -EINVAL;
        u.host = s + i + 1;
        u.host_len = close - i - 1;
        i = close + 1;
    } else {
        size_t h = i;
        while (i < auth_end && s[i] != ':') {
            if (!name_char(s[i]))
                return -EINVAL;
            i++;
        }
        if (i == h)
            return -EINVAL;
        u.host = s + h;
        u.host_len = i - h;
    }
    if (u.host_len > RURL_HOST_MAX)
        return -EINVAL;
    if (i < auth_end) {
        if (s[i] != ':' || lex_port(s + i + 1, auth_end - i - 1, false, &u.port) < 0)
            return -EINVAL;
    }
    i = auth_end;
    u.room = RURL_DEFAULT_ROOM;
    u.room_len = sizeof RURL_DEFAULT_ROOM - 1;
    if (i < len) {
        i++; /* the '/' */
        size_t r = i;
        while (i < len && name_char(s[i]))
            i++;
        if (i != len || i - r > RURL_ROOM_MAX)
            return -EINVAL; /* another '/', '?', '#', or bytes rooms do not use */
        if (i > r) {
            u.room = s + r;
            u.room_len = i - r;
        }
    }
    *out = u;
    return 0;
}
