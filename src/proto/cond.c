/* cond: see cond.h. The order of the checks is RFC 9110 section 13.2.2's. */
#include "proto/cond.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "proto/httpdate.h"
#include "proto/range.h"

enum compare { STRONG, WEAK };

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* True when tag[0..len) is the entity tag etag by the comparison cmp: a weak
 * tag (W/"...") only ever matches weakly, and then by its opaque part. */
static bool tag_equal(const char *tag, size_t len, const char *etag, enum compare cmp)
{
    if (etag == NULL)
        return false;
    if (len >= 2 && tag[0] == 'W' && tag[1] == '/') {
        if (cmp == STRONG)
            return false;
        tag += 2;
        len -= 2;
    }
    return strlen(etag) == len && memcmp(tag, etag, len) == 0;
}

/* Length of the entity tag at s[0..len), [W/] DQUOTE opaque DQUOTE, or 0
 * when s does not start with one. */
static size_t tag_len(const char *s, size_t len)
{
    size_t i = 0;

    if (len >= 2 && s[0] == 'W' && s[1] == '/')
        i = 2;
    if (i >= len || s[i] != '"')
        return 0;
    for (i++; i < len; i++)
        if (s[i] == '"')
            return i + 1;
    return 0;
}

/* True when the list (If-Match, If-None-Match) holds "*" or a tag equal to
 * etag by cmp. After each element we skip to the next comma from where the
 * element began, as fileserver always did, so a comma inside a tag's quotes
 * starts a new element too. In a well-formed list that never makes a false
 * match (a quote right after such a comma closes the tag it is in); a
 * malformed one gets the answer fileserver always gave. */
static bool list_holds(struct http_str list, const char *etag, enum compare cmp)
{
    size_t i = 0;

    while (i < list.len) {
        while (i < list.len && (is_ows(list.p[i]) || list.p[i] == ','))
            i++;
        if (i >= list.len)
            break;
        if (list.p[i] == '*')
            return true; /* any current representation; "*x" too, as always */
        const char *el = list.p + i;
        size_t n = tag_len(el, list.len - i);
        size_t end = i + n;
        while (end < list.len && is_ows(list.p[end]))
            end++;
        if (n > 0 && (end == list.len || list.p[end] == ',') && tag_equal(el, n, etag, cmp))
            return true;
        while (i < list.len && list.p[i] != ',')
            i++;
    }
    return false;
}

/* Parses a date header; false when it is not an HTTP-date. */
static bool date_value(struct http_str v, time_t *t)
{
    return httpdate_parse(v.p, v.len, t) == 0;
}

/* If-Range holds: an entity tag equal to ours byte for byte, or a date
 * equal to our mtime. A weak tag (W/"...") is neither, so it never holds. */
static bool if_range_holds(struct http_str v, const struct cond_file *f)
{
    time_t t;

    if (v.len > 0 && v.p[0] == '"')
        return tag_equal(v.p, v.len, f->etag, STRONG);
    return date_value(v, &t) && t == f->mtime;
}

/* Sets *d to s with no body. */
static void no_body(struct cond_decision *d, enum cond_outcome s)
{
    *d = (struct cond_decision){.status = s, .first = 0, .last = 0, .length = 0};
}

void cond_decide(const struct cond_file *f, const struct cond_request *r, struct cond_decision *d)
{
    time_t t;

    if (r->if_match.p != NULL) {
        if (!list_holds(r->if_match, f->etag, STRONG)) {
            no_body(d, COND_PRECONDITION_FAILED);
            return;
        }
    } else if (r->if_unmodified_since.p != NULL && date_value(r->if_unmodified_since, &t) &&
               f->mtime > t) {
        no_body(d, COND_PRECONDITION_FAILED);
        return;
    }

    if (r->if_none_match.p != NULL) {
        if (list_holds(r->if_none_match, f->etag, WEAK)) {
            no_body(d, COND_NOT_MODIFIED);
            return;
        }
    } else if (r->if_modified_since.p != NULL && date_value(r->if_modified_since, &t) &&
               f->mtime <= t) {
        no_body(d, COND_NOT_MODIFIED);
        return;
    }

    *d = (struct cond_decision){
        .status = COND_FULL, .first = 0, .last = f->size > 0 ? f->size - 1 : 0, .length = f->size};
    if (r->range.p == NULL || (r->if_range.p != NULL && !if_range_holds(r->if_range, f)))
        return;
    struct range rg;
    switch (range_parse(r->range.p, r->range.len, f->size, &rg)) {
    case RANGE_ONE:
        d->status = COND_PARTIAL;
        d->first = rg.first;
        d->last = rg.last;
        d->length = rg.last - rg.first + 1;
        break;
    case RANGE_UNSATISFIABLE:
        no_body(d, COND_UNSATISFIABLE);
        break;
    case RANGE_NONE:
    case RANGE_MANY:
        /* Several ranges get the whole file: never more work than its size. */
        break;
    }
}

/* Finishes a snprintf into out: its length, or 0 and an empty string when
 * it did not fit. */
static size_t fitted(int n, char *out, size_t outsz)
{
    if (n < 0 || (size_t)n >= outsz) {
        if (outsz > 0)
            out[0] = '\0';
        return 0;
    }
    return (size_t)n;
}

size_t cond_etag(uint64_t ino, uint64_t size, uint64_t mtime_ns, char *out, size_t outsz)
{
    int n = snprintf(out, outsz, "\"%" PRIx64 "-%" PRIx64 "-%" PRIx64 "\"", ino, size, mtime_ns);

    return fitted(n, out, outsz);
}

size_t cond_content_range(const struct cond_decision *d, uint64_t size, char *out, size_t outsz)
{
    int n;

    if (d->status == COND_PARTIAL)
        n = snprintf(out, outsz, "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, d->first, d->last, size);
    else if (d->status == COND_UNSATISFIABLE)
        n = snprintf(out, outsz, "bytes */%" PRIu64, size);
    else
        n = -1;
    return fitted(n, out, outsz);
}
