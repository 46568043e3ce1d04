/* libFuzzer target: the chunked decoder, differentially. The first input
 * byte picks a split point; the rest is decoded in one call and again in
 * two, and both must agree on the body, the outcome and what followed. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Decodes in[0..n) in pieces split at cut; the body goes to out. Returns
 * the decoder's last result and the input bytes left over in *rest. */
static ssize_t decode(const char *in, size_t n, size_t cut, char *out, size_t *outlen)
{
    struct http_chunked ch;
    char *work = malloc(n ? n : 1);
    ssize_t r = HTTP_PARSE_INCOMPLETE;
    size_t at = 0, pieces[2] = {cut, n - cut};

    memset(&ch, 0, sizeof ch);
    *outlen = 0;
    for (int i = 0; i < 2 && r == HTTP_PARSE_INCOMPLETE; i++) {
        size_t len = pieces[i];
        memcpy(work, in + at, len);
        r = http_chunked_decode(&ch, work, &len);
        if (r == HTTP_PARSE_INVALID)
            break;
        memcpy(out + *outlen, work, len);
        *outlen += len;
        if (r >= 0) /* what followed the body: count it from the whole input */
            r = (ssize_t)(n - (at + pieces[i] - (size_t)r));
        at += pieces[i];
    }
    free(work);
    return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t n = size - 1, cut = n ? data[0] % (n + 1) : 0;
    const char *in = (const char *)data + 1;
    char *a = malloc(n + 1), *b = malloc(n + 1);
    size_t alen, blen;

    ssize_t ra = decode(in, n, n, a, &alen);
    ssize_t rb = decode(in, n, cut, b, &blen);
    if (alen > n || blen > n)
        abort();
    /* A split may only matter for errors the first piece already shows. */
    if (ra != HTTP_PARSE_INVALID && rb != HTTP_PARSE_INVALID &&
        (ra != rb || alen != blen || memcmp(a, b, alen) != 0))
        abort();
    free(a);
    free(b);
    return 0;
}
