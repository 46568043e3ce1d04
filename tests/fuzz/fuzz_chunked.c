/* libFuzzer target: the chunked decoder, differentially. The first input
 * byte picks a split point; the rest is decoded in one call, again in two
 * and again byte by byte, and all must agree on the body, the outcome and
 * what followed. A size never passes 2^63 - 1. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Decodes in[0..n) in two pieces split at cut (1..n), or byte by byte when
 * cut is 0; the body goes to out. Returns the decoder's last result, with
 * what followed the body counted from the whole input. */
static ssize_t decode(const char *in, size_t n, size_t cut, char *out, size_t *outlen)
{
    struct http_chunked ch;
    char *work = malloc(n ? n : 1);
    ssize_t r = HTTP_PARSE_INCOMPLETE;
    size_t at = 0;

    memset(&ch, 0, sizeof ch);
    *outlen = 0;
    /* cut == 0 means byte by byte; otherwise two pieces, [0, cut) and the rest. */
    while (at < n && r == HTTP_PARSE_INCOMPLETE) {
        size_t piece = cut == 0 ? 1 : at == 0 ? cut : n - at;
        size_t len = piece;
        memcpy(work, in + at, len);
        r = http_chunked_decode(&ch, work, &len);
        if (ch.left > (uint64_t)INT64_MAX)
            abort();
        if (r == HTTP_PARSE_INVALID)
            break;
        memcpy(out + *outlen, work, len);
        *outlen += len;
        if (r >= 0) /* what followed the body: count it from the whole input */
            r = (ssize_t)(n - (at + piece - (size_t)r));
        at += piece;
    }
    free(work);
    return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t n = size - 1, cut = n ? 1 + data[0] % n : 1;
    const char *in = (const char *)data + 1;
    char *a = malloc(n + 1), *b = malloc(n + 1), *c = malloc(n + 1);
    size_t alen, blen, clen;

    ssize_t ra = decode(in, n, n, a, &alen);
    ssize_t rb = decode(in, n, cut, b, &blen);
    ssize_t rc = decode(in, n, 0, c, &clen);
    if (alen > n || blen > n || clen > n)
        abort();
    /* However the input is cut, the outcome is the same; a body decoded
     * before an error may be shorter when cut, never different. */
    if ((ra == HTTP_PARSE_INVALID) != (rb == HTTP_PARSE_INVALID) ||
        (ra == HTTP_PARSE_INVALID) != (rc == HTTP_PARSE_INVALID))
        abort();
    if (ra != HTTP_PARSE_INVALID && (ra != rb || ra != rc || alen != blen || alen != clen ||
                                     memcmp(a, b, alen) != 0 || memcmp(a, c, alen) != 0))
        abort();
    free(a);
    free(b);
    free(c);
    return 0;
}
