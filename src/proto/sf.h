/* sf: the part of Structured Field Values (RFC 9651) that ferry's headers
 * need: Items (Upload-Offset, Upload-Complete, Upload-Length,
 * Upload-Draft-Interop-Version) and Dictionaries (Repr-Digest,
 * Want-Repr-Digest, Upload-Limit). Byte sequences, integers and booleans
 * are returned; tokens, strings, decimals and inner lists are checked and
 * read past; parameters are read past. A field that does not parse fails
 * as a whole (RFC 9651 §4.2: the header is then ignored).
 *
 * Pure: no I/O, no allocation; inputs are (pointer, length) and need no NUL;
 * results point into the input. */
#ifndef FERRY_PROTO_SF_H
#define FERRY_PROTO_SF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum sf_kind { SF_BYTES, SF_INTEGER, SF_BOOLEAN, SF_OTHER };

struct sf_item {
    enum sf_kind kind;
    const char *bytes; /* SF_BYTES: the base64 between the colons */
    size_t nbytes;
    int64_t integer; /* SF_INTEGER: at most 15 digits, a sign allowed */
    bool boolean;    /* SF_BOOLEAN */
};

/* An Item field: one bare item with optional parameters, spaces around.
 * 0 with *out set, or -EINVAL (*out unchanged). */
int sf_item_parse(const char *v, size_t len, struct sf_item *out);

/* A Dictionary field: the last member whose key is key (a later member
 * overrides an earlier one) is copied to *out; a bare key is the boolean
 * true, an inner list is SF_OTHER. Returns 1 found, 0 the field parses and
 * has no such key (an empty field included), -EINVAL it does not parse. */
int sf_dict_find(const char *v, size_t len, const char *key, struct sf_item *out);

#endif
