#include "proto/digest.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "proto/lex.h"
#include "proto/sf.h"

int digest_field_sha256(const char *v, size_t len, unsigned char out[DIGEST_SHA256_LEN])
{
    struct sf_item it;
    int rc = sf_dict_find(v, len, "sha-256", &it);

    if (rc <= 0)
        return rc;
    if (it.kind != SF_BYTES)
        return -EINVAL;
    unsigned char d[DIGEST_SHA256_LEN + 3];
    long n = lex_b64_decode(it.bytes, it.nbytes, d, sizeof d);
    if (n != DIGEST_SHA256_LEN)
        return -EINVAL;
    memcpy(out, d, DIGEST_SHA256_LEN);
    return 1;
}

int digest_want_sha256(const char *v, size_t len)
{
    struct sf_item it;

    if (sf_dict_find(v, len, "sha-256", &it) != 1 || it.kind != SF_INTEGER)
        return 0;
    return it.integer >= 1 && it.integer <= 10;
}

size_t digest_field_format(const unsigned char d[DIGEST_SHA256_LEN], char *out)
{
    memcpy(out, "sha-256=:", 9);
    size_t n = lex_b64_encode(d, DIGEST_SHA256_LEN, out + 9);
    out[9 + n] = ':';
    out[10 + n] = '\0';
    return 10 + n;
}

int digest_hex_parse(const char *s, size_t len, unsigned char out[DIGEST_SHA256_LEN])
{
    unsigned char d[DIGEST_SHA256_LEN];

    if (len != DIGEST_HEX_LEN)
        return -EINVAL;
    for (size_t i = 0; i < DIGEST_SHA256_LEN; i++) {
        int hi = lex_hex_digit(s[2 * i]), lo = lex_hex_digit(s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -EINVAL;
        d[i] = (unsigned char)(hi << 4 | lo);
    }
    memcpy(out, d, sizeof d);
    return 0;
}

void digest_hex_format(const unsigned char d[DIGEST_SHA256_LEN], char *out)
{
    static const char hex[] = "0123456789abcdef";

    for (size_t i = 0; i < DIGEST_SHA256_LEN; i++) {
        out[2 * i] = hex[d[i] >> 4];
        out[2 * i + 1] = hex[d[i] & 15];
    }
    out[DIGEST_HEX_LEN] = '\0';
}
