#include "proto/digest.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
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

size_t digest_stamp_format(const struct digest_stamp *st, const unsigned char d[DIGEST_SHA256_LEN],
                           char *out)
{
    char hex[DIGEST_HEX_LEN + 1];

    digest_hex_format(d, hex);
    int n = snprintf(out, DIGEST_STAMP_MAX, "v1 %" PRIu64 " %" PRIu64 " %" PRIu64 " %s", st->size,
                     st->mtime_ns, st->ino, hex);
    return n < 0 ? 0 : (size_t)n;
}

/* A decimal and the one space after it, at *pos. */
static int stamp_number(const char *v, size_t len, size_t *pos, uint64_t *out)
{
    /* What digest_stamp_format writes: no leading zeros. */
    if (*pos + 1 < len && v[*pos] == '0' && v[*pos + 1] >= '0' && v[*pos + 1] <= '9')
        return -EINVAL;
    if (lex_decimal(v, len, pos, UINT64_MAX, out) < 0 || *pos >= len || v[*pos] != ' ')
        return -EINVAL;
    (*pos)++;
    return 0;
}

int digest_stamp_parse(const char *v, size_t len, const struct digest_stamp *want,
                       unsigned char out[DIGEST_SHA256_LEN])
{
    struct digest_stamp got;
    unsigned char d[DIGEST_SHA256_LEN];
    size_t pos = 3;

    if (len > 0 && v[len - 1] == '\0')
        len--;
    if (len < 3 || memcmp(v, "v1 ", 3) != 0 || stamp_number(v, len, &pos, &got.size) < 0 ||
        stamp_number(v, len, &pos, &got.mtime_ns) < 0 || stamp_number(v, len, &pos, &got.ino) < 0 ||
        digest_hex_parse(v + pos, len - pos, d) < 0)
        return -EINVAL;
    if (got.size != want->size || got.mtime_ns != want->mtime_ns || got.ino != want->ino)
        return 0;
    memcpy(out, d, sizeof d);
    return 1;
}
