#include "proto/lex.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

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

static int b64_value(unsigned char ch)
{
    if (ch >= 'A' && ch <= 'Z')
        return ch - 'A';
    if (ch >= 'a' && ch <= 'z')
        return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9')
        return ch - '0' + 52;
    if (ch == '+')
        return 62;
    if (ch == '/')
        return 63;
    return -1;
}

long lex_b64_decode(const char *in, size_t len, unsigned char *out, size_t outsz)
{
    size_t o = 0;

    if (len == 0 || len % 4 != 0)
        return -EINVAL;
    for (size_t i = 0; i < len; i += 4) {
        bool last = i + 4 == len;
        int v[4];
        int pad = 0;
        for (int k = 0; k < 4; k++) {
            unsigned char ch = (unsigned char)in[i + (size_t)k];
            if (ch == '=' && last && k >= 2) {
                v[k] = 0;
                pad++;
                continue;
            }
            if (pad > 0) /* data after padding */
                return -EINVAL;
            v[k] = b64_value(ch);
            if (v[k] < 0)
                return -EINVAL;
        }
        /* The bits padding leaves unused must be zero (RFC 4648 §3.5). */
        if ((pad == 2 && (v[1] & 0x0f) != 0) || (pad == 1 && (v[2] & 0x03) != 0))
            return -EINVAL;
        size_t take = 3 - (size_t)pad;
        if (outsz - o < take)
            return -ENOSPC;
        uint32_t bits =
            (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
        unsigned char b[3] = {(unsigned char)(bits >> 16), (unsigned char)(bits >> 8),
                              (unsigned char)bits};
        memcpy(out + o, b, take);
        o += take;
    }
    return (long)o;
}

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t lex_b64_encode(const unsigned char *in, size_t len, char *out)
{
    size_t o = 0;

    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        size_t left = len - i;
        if (left > 1)
            v |= (uint32_t)in[i + 1] << 8;
        if (left > 2)
            v |= in[i + 2];
        out[o++] = b64_alphabet[(v >> 18) & 63];
        out[o++] = b64_alphabet[(v >> 12) & 63];
        out[o++] = left > 1 ? b64_alphabet[(v >> 6) & 63] : '=';
        out[o++] = left > 2 ? b64_alphabet[v & 63] : '=';
    }
    out[o] = '\0';
    return o;
}
