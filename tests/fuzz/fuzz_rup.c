/* libFuzzer target: proto/rup's parsers and proto/digest's stamp. For any
 * input: a state that parses formats back to a text of the same length
 * (hex digits may change case; a v1 state gains the owner "-") that parses to the same state; a
 * token the query yields is 32 hex digits; the request fields of a head that parses are what they
 * must be (a complete flag of -1, 0 or 1, offsets and lengths -1 or non-negative); a stamp that
 * parses formats back to one of the same length that gives the same digest. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/digest.h"
#include "proto/http.h"
#include "proto/rup.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exact-size copy, so ASan sees a read past the end. */
    char *in = malloc(size ? size : 1);
    struct rup_state st, st2;
    char text[RUP_STATE_MAX], tok[RUP_TOKEN_LEN + 1];

    memcpy(in, data, size);
    if (rup_state_parse(in, size, &st) == 0) {
        size_t n = rup_state_format(&st, text);
        /* A v1 state (no owner) comes back as v2 with owner "-". */
        size_t want = in[1] == '1' ? size + 2 : size;
        if (n != want || rup_state_parse(text, n, &st2) != 0 || st2.length != st.length ||
            strcmp(st2.owner, st.owner) != 0 || st2.created != st.created ||
            st2.complete != st.complete || st2.has_sha != st.has_sha ||
            (st.has_sha && memcmp(st.sha, st2.sha, 32) != 0) || strcmp(st2.rel, st.rel) != 0)
            abort();
    }
    if (rup_query_token(in, size, tok) == 1) {
        if (strlen(tok) != RUP_TOKEN_LEN || strspn(tok, "0123456789abcdef") != RUP_TOKEN_LEN)
            abort();
    }
    struct http_request req;
    int status = 0;
    if (http_parse_request(in, size, &req, &status) > 0) {
        struct rup_req r;
        if (rup_req_parse(&req, -1, &r) == 0 &&
            (r.complete < -1 || r.complete > 1 || r.offset < -1 || r.length < -1))
            abort();
    }
    struct digest_stamp want = {.size = 1, .mtime_ns = 2, .ino = 3};
    unsigned char d[32], d2[32];
    if (digest_stamp_parse(in, size, &want, d) == 1) {
        size_t n = digest_stamp_format(&want, d, text);
        size_t m = size > 0 && in[size - 1] == '\0' ? size - 1 : size;
        if (n != m || digest_stamp_parse(text, n, &want, d2) != 1 || memcmp(d, d2, 32) != 0)
            abort();
    }
    free(in);
    return 0;
}
