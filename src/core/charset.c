#include "core/charset.h"

#include <errno.h>
#include <iconv.h>
#include <stdint.h>

bool utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;

    while (i < len) {
        unsigned c = p[i];
        size_t n;
        uint32_t cp;

        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xc2 && c <= 0xdf) {
            n = 1;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 2;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (len - i - 1 < n)
            return false;
        for (size_t k = 1; k <= n; k++) {
            if ((p[i + k] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (p[i + k] & 0x3f);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += n + 1;
    }
    return true;
}

long gb18030_to_utf8(const char *in, size_t len, char *out, size_t outsz)
{
    return charset_convert("UTF-8", "GB18030", in, len, out, outsz);
}

long charset_convert(const char *to, const char *from, const char *in, size_t len, char *out,
                     size_t outsz)
{
    if (outsz == 0)
        return -ENOSPC;
    iconv_t cd = iconv_open(to, from);
    if (cd == (iconv_t)-1)
        return -errno;
    char *ip = (char *)in;
    char *op = out;
    size_t il = len, ol = outsz - 1;
    long rc;

    /* Input cut inside a character (EINVAL) counts as invalid too. */
    if (iconv(cd, &ip, &il, &op, &ol) == (size_t)-1)
        rc = errno == E2BIG ? -ENOSPC : -EILSEQ;
    else
        rc = (long)(op - out);
    iconv_close(cd);
    if (rc >= 0)
        *op = '\0';
    return rc;
}
