#include "proto/line.h"

#include <string.h>

bool line_next(const char *buf, size_t len, size_t cap, bool drained, struct line *out)
{
    size_t look = len < cap + 2 ? len : cap + 2; /* room for CR LF after a full message */
    /* memchr may not be given NULL, even for no bytes (an empty buffer has none) */
    const char *lf = look > 0 ? memchr(buf, '\n', look) : NULL;

    if (lf != NULL) {
        size_t n = (size_t)(lf - buf);
        bool cr = n > 0 && buf[n - 1] == '\r';
        size_t text = cr ? n - 1 : n;
        if (text <= cap) {
            *out = (struct line){buf, text, cr ? "\r\n" : "\n", n + 1};
            return true;
        }
    }
    if (len >= cap + 2 || (drained && len >= cap)) {
        /* Over the cap without a newline in reach: cut. */
        *out = (struct line){buf, cap, "", cap};
        return true;
    }
    if (drained && len > 0) {
        /* A lone CR at the end may be half of CR LF still in flight, but the
         * peer is waiting: it is part of the text. */
        *out = (struct line){buf, len, "", len};
        return true;
    }
    return false;
}
