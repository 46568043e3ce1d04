/* charset: UTF-8 validation and GB18030 (a superset of GBK) to UTF-8. */
#ifndef FERRY_CORE_CHARSET_H
#define FERRY_CORE_CHARSET_H

#include <stdbool.h>
#include <stddef.h>

/* True when s[0..len) is well-formed UTF-8 (no overlongs, no surrogates). */
bool utf8_valid(const char *s, size_t len);

/* Converts in[0..len) from the encoding named from to the one named to
 * (iconv names: "UTF-8", "GBK", "GB18030") into out (outsz bytes, always
 * NUL-terminated on success). Returns the output length, -EILSEQ for input
 * that is not valid in from (or has no form in to), -ENOSPC when out is too
 * small, or another -errno. */
long charset_convert(const char *to, const char *from, const char *in, size_t len, char *out,
                     size_t outsz);

/* Converts GB18030 text in[0..len) to UTF-8 in out (outsz bytes, always
 * NUL-terminated on success). Returns the UTF-8 length, -EILSEQ for bytes
 * that are not GB18030, -ENOSPC when out is too small, or another -errno. */
long gb18030_to_utf8(const char *in, size_t len, char *out, size_t outsz);

#endif
