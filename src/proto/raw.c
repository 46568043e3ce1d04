#include "proto/raw.h"

#include <errno.h>
#include <string.h>

static const char *const starts[] = {"GET ",   "HEAD ",  "POST ",    "PUT ",     "DELETE ",
                                     "OPTIONS ", "PATCH ", "TRACE ", "CONNECT "};

enum raw_detect raw_detect(const char *buf, size_t len)
{
    enum raw_detect r = RAW_IS_RAW;

    for (size_t i = 0; i < sizeof starts / sizeof starts[0]; i++) {
        size_t n = strlen(starts[i]);
        if (len >= n && memcmp(buf, starts[i], n) == 0)
            return RAW_IS_HTTP;
        if (len < n && memcmp(buf, starts[i], len) == 0)
            r = RAW_IS_MAYBE;
    }
    return r;
}

long raw_name_len(const char *buf, size_t len)
{
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
        len--;
    if (len == 0)
        return -EINVAL;
    if (len > RAW_MAX_NAME)
        return -ENAMETOOLONG;
    return (long)len;
}
