#include "proto/page.h"

#include <string.h>

size_t page_reason(const char *body, size_t n, char *out, size_t outsz)
{
    const char *p = memmem(body, n, "<p>", 3);

    out[0] = '\0';
    if (p == NULL)
        return 0;
    p += 3;
    size_t rest = n - (size_t)(p - body);
    const char *end = memmem(p, rest, "</p>", 4);
    if (end == NULL || end == p)
        return 0;
    size_t len = (size_t)(end - p);
    if (len >= outsz)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (p[i] < 0x20 || p[i] > 0x7e || p[i] == '<' || p[i] == '>')
            return 0;
    memcpy(out, p, len);
    out[len] = '\0';
    return len;
}
