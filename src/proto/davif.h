/* davif: the WebDAV If header (RFC 4918 §10.4), parsed and evaluated.
 *
 * If = 1*No-tag-list | 1*Tagged-list; a list is "(" 1*Condition ")", a
 * condition ["Not"] (State-token | "[" entity-tag "]"), a state token a
 * Coded-URL "<...>", a resource tag "<...>" before its lists. Pure: no I/O,
 * no allocation; the parse points into the caller's buffer, bounded by
 * DAVIF_MAX_LISTS and DAVIF_MAX_CONDS. */
#ifndef FERRY_PROTO_DAVIF_H
#define FERRY_PROTO_DAVIF_H

#include <stdbool.h>
#include <stddef.h>

#include "proto/http.h"

#define DAVIF_MAX_LISTS 16 /* lists in one header */
#define DAVIF_MAX_CONDS 64 /* conditions in all its lists together */

struct davif_cond {
    bool not ;            /* "Not": the condition holds when the test fails */
    bool etag;            /* an entity tag ("[...]"), else a state token ("<...>") */
    struct http_str text; /* a token without its angle brackets; a tag as written
                           * (quotes and any W/ kept) */
};

struct davif_list {
    struct http_str tag; /* the resource tag without brackets; p NULL when untagged
                          * (the list is about the request's own resource) */
    size_t first, n;     /* its conditions: conds[first .. first + n) */
};

struct davif {
    size_t nlists, nconds;
    struct davif_list lists[DAVIF_MAX_LISTS];
    struct davif_cond conds[DAVIF_MAX_CONDS];
};

/* Parses the field value s[0..len). Returns 0, -EINVAL for bad syntax (a
 * header that is empty, mixes tagged and untagged lists, leaves a list or
 * a bracket open, has an empty list, or bytes between productions other
 * than white space), or -E2BIG past the bounds. */
int davif_parse(const char *s, size_t len, struct davif *out);

/* What the evaluator asks about a resource: tag is a list's resource tag
 * (p NULL: the request's own resource). */
struct davif_ops {
    /* True when token is the token of a lock that is current on the resource. */
    bool (*has_token)(void *arg, struct http_str tag, struct http_str token);
    /* The resource's strong entity tag, quoted, into out (outsz bytes):
     * false when it has none (it does not exist). */
    bool (*etag)(void *arg, struct http_str tag, char *out, size_t outsz);
};

/* True when the header holds: at least one list all of whose conditions
 * hold, each about its list's resource. An entity tag condition holds when
 * it equals the resource's entity tag byte for byte (a weak tag never
 * does). */
bool davif_eval(const struct davif *h, const struct davif_ops *ops, void *arg);

/* True when the header submits token: it is a state token in some list,
 * without Not (whether or not the list holds). */
bool davif_submits(const struct davif *h, const char *token, size_t len);

#endif
