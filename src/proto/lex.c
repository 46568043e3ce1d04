#include "proto/lex.h"

#include <errno.h>

int lex_hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int lex_decimal(const char *s, size_t len, size_t *pos, uint64_t max, uint64_t *out)
{
    size_t i = *pos;
    uint64_t n = 0;

    if (i >= len || s[i] < '0' || s[i] > '9')
        return -EINVAL;
    for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
        uint64_t d = (uint64_t)(s[i] - '0');
        if (d > max || n > (max - d) / 10)
            return -ERANGE;
        n = n * 10 + d;
    }
    *pos = i;
    *out = n;
    return 0;
}

int lex_port(const char *s, size_t len, bool zero_ok, uint16_t *port)
{
    size_t i = 0;
    uint64_t v;

    if (lex_decimal(s, len, &i, 65535, &v) < 0 || i != len || (v == 0 && !zero_ok))
        return -EINVAL;
    *port = (uint16_t)v;
    return 0;
}
