/* json: the little JSON ferry writes and reads: strict strings for the
 * directory listing (serve) and its reader (get -r), and the Accept
 * decision that picks it. Pure. */
#ifndef FERRY_PROTO_JSON_H
#define FERRY_PROTO_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

/* Appends s[0..len) as a JSON string, quotes included: '"' and '\\'
 * escaped, every control byte (below 0x20, and DEL) as \u00XX, well-formed
 * UTF-8 copied, and any byte that is not part of well-formed UTF-8 as
 * \ufffd (so the output is strict JSON for any bytes). Returns 0 or
 * -errno from the buffer (-ENOBUFS past its cap). */
int json_put_string(struct buf *b, const char *s, size_t len);

/* Whether an Accept field value v[0..len) asks for application/json over
 * text/html: it names application/json exactly (case-insensitive) with a
 * q above 0, and that q is at least text/html's (0 when not named).
 * Wildcards count for neither. Parameters other than q are ignored. */
bool json_accept(const char *v, size_t len);

/* One entry of a JSON directory listing, as json_listing_parse gives it:
 * href (percent-encoded, beneath the listing) points into out, NUL-ended. */
struct json_entry {
    const char *href;
    bool dir;
    uint64_t size;
    int64_t mtime;
};

typedef int (*json_entry_cb)(void *arg, const struct json_entry *e);

/* Reads a listing s[0..len): an object whose "entries" member is an array
 * of objects, each with "href" (a string) and "type" ("file" or "dir"),
 * and optionally "size" and "mtime" (integers); other members of any kind
 * are skipped. Calls cb for each entry in order (a non-zero return stops
 * and is returned). Strings are decoded into scratch (scratchsz bytes;
 * \u escapes to UTF-8, a lone surrogate refused). Nesting deeper than 16
 * is refused. Returns 0, -EBADMSG for anything that is not such strict
 * JSON, -ENAMETOOLONG for a string longer than scratch, or cb's value. */
int json_listing_parse(const char *s, size_t len, char *scratch, size_t scratchsz, json_entry_cb cb,
                       void *arg);

#endif
