/* range: the Range request header (RFC 9110 section 14). Pure. */
#ifndef FERRY_PROTO_RANGE_H
#define FERRY_PROTO_RANGE_H

#include <stddef.h>
#include <stdint.h>

#define RANGE_MAX_SPECS 100

enum range_result {
    RANGE_NONE,          /* no usable Range header: send the whole file */
    RANGE_ONE,           /* one satisfiable range, in *out */
    RANGE_MANY,          /* several satisfiable ranges: we send the whole file */
    RANGE_UNSATISFIABLE, /* none lies within the file: 416 */
};

struct range {
    uint64_t first, last; /* inclusive, last < size */
};

/* Parses a Range value against a representation of size bytes. A header
 * with a syntax error, an unknown unit or more than RANGE_MAX_SPECS specs is
 * ignored (RANGE_NONE). Numbers too large for 64 bits count as "beyond any
 * file": a first position that overflows is unsatisfiable, a last position
 * or suffix length that overflows reaches the end of the file. */
enum range_result range_parse(const char *s, size_t len, uint64_t size, struct range *out);

#endif
