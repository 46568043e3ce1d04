#include "proto/range.h"

#include <stdbool.h>
#include <strings.h>

/* Reads digits at s[*i]; saturates at UINT64_MAX. False when none. */
static bool read_num(const char *s, size_t len, size_t *i, uint64_t *v)
{
    size_t start = *i;
    uint64_t n = 0;

    while (*i < len && s[*i] >= '0' && s[*i] <= '9') {
        unsigned d = (unsigned)(s[*i] - '0');
        n = n > (UINT64_MAX - d) / 10 ? UINT64_MAX : n * 10 + d;
        (*i)++;
    }
    *v = n;
    return *i > start;
}

static void skip_ows(const char *s, size_t len, size_t *i)
{
    while (*i < len && (s[*i] == ' ' || s[*i] == '\t'))
        (*i)++;
}

enum range_result range_parse(const char *s, size_t len, uint64_t size, struct range *out)
{
    size_t i = 6, specs = 0, good = 0;

    if (len < 6 || strncasecmp(s, "bytes=", 6) != 0)
        return RANGE_NONE;
    for (;;) {
        uint64_t first, last;
        bool suffix = false;

        skip_ows(s, len, &i);
        if (i < len && s[i] == ',') { /* empty list elements are allowed */
            i++;
            continue;
        }
        if (i >= len)
            break;
        if (++specs > RANGE_MAX_SPECS)
            return RANGE_NONE;
        if (s[i] == '-') {
            i++;
            if (!read_num(s, len, &i, &last))
                return RANGE_NONE;
            suffix = true;
        } else {
            if (!read_num(s, len, &i, &first) || i >= len || s[i] != '-')
                return RANGE_NONE;
            i++;
            if (!read_num(s, len, &i, &last))
                last = UINT64_MAX;
            if (last < first)
                return RANGE_NONE;
        }
        skip_ows(s, len, &i);
        if (i < len && s[i] != ',')
            return RANGE_NONE;
        if (suffix) {
            if (last == 0 || size == 0)
                continue;
            first = last >= size ? 0 : size - last;
            last = size - 1;
        } else {
            if (first >= size)
                continue;
            if (last >= size)
                last = size - 1;
        }
        if (good++ == 0) {
            out->first = first;
            out->last = last;
        }
    }
    if (specs == 0)
        return RANGE_NONE;
    if (good == 0)
        return RANGE_UNSATISFIABLE;
    return good == 1 ? RANGE_ONE : RANGE_MANY;
}
