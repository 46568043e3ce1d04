#include "proto/html.h"

#include <stdbool.h>

#include "core/charset.h"

int html_escape(struct buf *b, const char *s, size_t len)
{
    int rc = 0;

    for (size_t i = 0; i < len && rc == 0; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x80) {
            /* Copy a well-formed UTF-8 sequence; any other byte becomes
             * U+FFFD so the page stays valid UTF-8. */
            size_t n = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
            if (n <= len - i && utf8_valid(s + i, n) && c >= 0xc2) {
                rc = buf_append(b, s + i, n);
                i += n - 1;
            } else {
                rc = buf_puts(b, "\xef\xbf\xbd");
            }
            continue;
        }
        switch (c) {
        case '&': rc = buf_puts(b, "&amp;"); break;
        case '<': rc = buf_puts(b, "&lt;"); break;
        case '>': rc = buf_puts(b, "&gt;"); break;
        case '"': rc = buf_puts(b, "&quot;"); break;
        case '\'': rc = buf_puts(b, "&#39;"); break;
        default:
            if ((c < 0x20 && c != '\t') || c == 0x7f)
                rc = buf_puts(b, "\xef\xbf\xbd");
            else
                rc = buf_append(b, &s[i], 1);
        }
    }
    return rc;
}

static bool unreserved(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '.' || c == '_' || c == '~';
}

int url_encode(struct buf *b, const char *s, size_t len, int keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    int rc = 0;

    for (size_t i = 0; i < len && rc == 0; i++) {
        unsigned char c = (unsigned char)s[i];
        if (unreserved(c) || (keep_slash && c == '/')) {
            rc = buf_append(b, &s[i], 1);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            rc = buf_append(b, e, 3);
        }
    }
    return rc;
}
