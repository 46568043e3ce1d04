#include "proto/path.h"
#include "proto/lex.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

long path_normalise(const char *in, size_t len, char *out, size_t outsz, unsigned *flags)
{
    size_t o = 0, i = 0;

    *flags = 0;
    if (outsz < 2)
        return -ENAMETOOLONG;
    if (memchr(in, '\0', len) != NULL)
        return -EINVAL;
    if (len > 0 && in[len - 1] == '/')
        *flags |= PATH_TRAILING_SLASH;
    while (i < len) {
        size_t start = i;
        while (i < len && in[i] != '/')
            i++;
        size_t seg = i - start;
        i++; /* past the slash, or past the end */
        if (seg == 0 || (seg == 1 && in[start] == '.'))
            continue;
        if (seg == 2 && in[start] == '.' && in[start + 1] == '.') {
            if (o == 0)
                return -EACCES;
            while (o > 0 && out[o - 1] != '/')
                o--;
            if (o > 0)
                o--; /* the slash before the removed segment */
            continue;
        }
        if (o + (o > 0) + seg + 1 > outsz)
            return -ENAMETOOLONG;
        if (o > 0)
            out[o++] = '/';
        memcpy(out + o, in + start, seg);
        o += seg;
    }
    if (o == 0)
        out[o++] = '.';
    out[o] = '\0';
    /* Judge hidden segments on the result, so "a/.x/../b" is not hidden. */
    size_t nhidden = 0, last = 0;
    for (size_t k = 0; k < o; k++)
        if (out[k] == '.' && (k == 0 || out[k - 1] == '/') && !(o == 1 && k == 0)) {
            *flags |= PATH_HIDDEN;
            nhidden++;
            last = k;
            if (path_reserved(out + k, o - k))
                *flags |= PATH_RESERVED;
        }
    if (nhidden == 1 && memchr(out + last, '/', o - last) == NULL &&
        !(*flags & PATH_TRAILING_SLASH) && path_mac_meta(out + last, o - last))
        *flags |= PATH_MAC_META;
    return (long)o;
}

bool path_reserved(const char *name, size_t len)
{
    size_t pl = sizeof PATH_RESERVED_PREFIX - 1;

    return len >= pl && memcmp(name, PATH_RESERVED_PREFIX, pl) == 0;
}

bool path_mac_meta(const char *name, size_t len)
{
    static const char ds[] = ".DS_Store";

    if (len > 2 && name[0] == '.' && name[1] == '_')
        return memchr(name, '/', len) == NULL;
    return len == sizeof ds - 1 && memcmp(name, ds, len) == 0;
}

bool path_refused(unsigned flags, bool hidden, bool mac_meta)
{
    if (flags & PATH_RESERVED)
        return true;
    if (!(flags & PATH_HIDDEN) || hidden)
        return false;
    return !(mac_meta && (flags & PATH_MAC_META));
}

long path_from_target(const char *target, size_t len, char *out, size_t outsz, unsigned *flags)
{
    char dec[PATH_MAX_LEN];
    size_t n = 0;

    *flags = 0;
    for (size_t i = 0; i < len; i++)
        if (target[i] == '?' || target[i] == '#') {
            len = i;
            break;
        }
    if (len == 0 || target[0] != '/')
        return -EINVAL;
    for (size_t i = 0; i < len; i++) {
        char c = target[i];
        if (c == '%') {
            int hi = i + 2 < len ? lex_hex_digit(target[i + 1]) : -1;
            int lo = i + 2 < len ? lex_hex_digit(target[i + 2]) : -1;
            if (hi < 0 || lo < 0)
                return -EINVAL;
            c = (char)(hi * 16 + lo);
            i += 2;
        }
        if (c == '\0')
            return -EINVAL;
        if (n == sizeof dec)
            return -ENAMETOOLONG;
        dec[n++] = c;
    }
    return path_normalise(dec, n, out, outsz, flags);
}
