#include "proto/raw.h"

#include <errno.h>
#include <string.h>

static const char *const starts[] = {
    "GET ",     "HEAD ",  "POST ",     "PUT ",       "DELETE ", "OPTIONS ", "PATCH ", "TRACE ",
    "CONNECT ", "MKCOL ", "PROPFIND ", "PROPPATCH ", "COPY ",   "MOVE ",    "LOCK ",  "UNLOCK "};

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

enum raw_name raw_name_scan(const char *buf, size_t len, size_t *name_len)
{
    size_t n = len < RAW_MAX_NAME + 1 ? len : RAW_MAX_NAME + 1;

    for (size_t i = 0; i < n; i++) {
        if (buf[i] == '\r' || buf[i] == '\n' || buf[i] == '\0') {
            *name_len = i;
            return RAW_NAME_DONE;
        }
    }
    return len > RAW_MAX_NAME ? RAW_NAME_TOOLONG : RAW_NAME_MORE;
}
