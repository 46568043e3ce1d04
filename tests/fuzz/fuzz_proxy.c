/* libFuzzer target: the PROXY header parser and sniffer. For any input:
 * a header is never longer than the input (v1 never past 107 bytes), every
 * proper prefix of a whole header asks for more, what follows a header does
 * not change it, a prefix of a malformed input is never a header, and
 * proxy_sniff sees every header. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/proxy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct proxy_header h, h2;
    /* An exact-size copy, so ASan sees a read past the end. */
    uint8_t *in = malloc(size ? size : 1);

    memcpy(in, data, size);
    enum proxy_result r = proxy_parse(in, size, &h);
    if (r == PROXY_OK) {
        if (h.len == 0 || h.len > size || (h.version == 1 && h.len > PROXY_V1_MAX))
            abort();
        if (proxy_sniff(in, size) != PROXY_SNIFF_HEADER)
            abort();
        for (size_t k = 0; k < h.len; k++)
            if (proxy_parse(in, k, &h2) != PROXY_MORE)
                abort();
        if (proxy_parse(in, h.len, &h2) != PROXY_OK || h2.len != h.len || h2.local != h.local ||
            memcmp(&h2.src, &h.src, sizeof h.src) != 0)
            abort();
    } else if (r == PROXY_BAD) {
        /* some prefix may be MORE or BAD, none may be a whole header */
        for (size_t k = 0; k < size && k <= PROXY_V1_MAX + 1; k++)
            if (proxy_parse(in, k, &h2) == PROXY_OK)
                abort();
    }
    free(in);
    return 0;
}
