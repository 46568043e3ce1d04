#include "proto/hostport.h"
#include "proto/lex.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

int hostport_parse(const char *s, char *host, size_t hostsz, uint16_t *port,
                   uint16_t default_port)
{
    const char *h = s, *colon;
    size_t hlen;

    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (close == NULL || close == s + 1)
            return -EINVAL;
        h = s + 1;
        hlen = (size_t)(close - h);
        colon = close[1] == ':' ? close + 1 : NULL;
        if (close[1] != '\0' && colon == NULL)
            return -EINVAL;
    } else {
        colon = strrchr(s, ':');
        if (colon != NULL && strchr(s, ':') != colon)
            colon = NULL; /* a bare IPv6 literal has several colons */
        hlen = colon ? (size_t)(colon - s) : strlen(s);
    }
    if (hlen == 0)
        return -EINVAL;
    if (hlen >= hostsz)
        return -ENAMETOOLONG;
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    if (colon != NULL)
        return lex_port(colon + 1, strlen(colon + 1), false, port);
    if (default_port == 0)
        return -EINVAL;
    *port = default_port;
    return 0;
}

size_t hostport_format(const char *host, uint16_t port, char *out, size_t outsz)
{
    bool v6 = strchr(host, ':') != NULL;
    int n = snprintf(out, outsz, v6 ? "[%s]:%u" : "%s:%u", host, (unsigned)port);

    return n < 0 ? 0 : (size_t)n;
}
