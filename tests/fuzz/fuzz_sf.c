/* libFuzzer target: proto/sf and proto/digest. For any input: results
 * point inside it; a parsed integer has at most 15 digits; a sha-256 found
 * formats back to a field that parses to the same bytes; and, since a
 * Dictionary member is found by key, a field with a member appended after a
 * comma either fails or still finds sha-256 (the new member overrides it only
 * with its own key). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/digest.h"
#include "proto/sf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exact-size copy, so ASan sees a read past the end. */
    char *in = malloc(size ? size : 1);
    struct sf_item it;
    unsigned char d[32], d2[32];
    char text[DIGEST_FIELD_LEN + 1];

    memcpy(in, data, size);
    if (sf_item_parse(in, size, &it) == 0) {
        if (it.kind == SF_INTEGER && (it.integer > 999999999999999LL || it.integer < -999999999999999LL))
            abort();
        if (it.kind == SF_BYTES && (it.bytes < in || it.bytes + it.nbytes > in + size))
            abort();
    }
    int rc = sf_dict_find(in, size, "sha-256", &it);
    if (rc == 1 && it.kind == SF_BYTES && (it.bytes < in || it.bytes + it.nbytes > in + size))
        abort();
    if (digest_field_sha256(in, size, d) == 1) {
        digest_field_format(d, text);
        if (digest_field_sha256(text, strlen(text), d2) != 1 || memcmp(d, d2, 32) != 0)
            abort();
        char *more = malloc(size + 8);
        memcpy(more, in, size);
        memcpy(more + size, ", x=1", 5);
        int r2 = digest_field_sha256(more, size + 5, d2);
        if (r2 == 0 || (r2 == 1 && memcmp(d, d2, 32) != 0))
            abort();
        free(more);
    }
    (void)digest_want_sha256(in, size);
    free(in);
    return 0;
}
