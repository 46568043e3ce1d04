/* davxml: WebDAV request bodies (RFC 4918 §14) parsed, and the pieces of a
 * multistatus written.
 *
 * Parsing uses expat (Debian libexpat1-dev) rather than libxml2: expat is
 * a streaming parser that holds no tree, never opens a file or a network
 * connection, and loads no DTD; it has had the billion-laughs guard
 * (amplification limit) on by default since 2.4. On top of that, any
 * DOCTYPE or entity declaration ends the parse (so no entity of any kind
 * can be defined, internal or external), parameter entities are never
 * parsed, and depth, element count, property count and kept text are
 * bounded. libxml2 can be set up as safely, but its defaults load DTDs
 * and it builds a tree; expat's smaller surface is easier to keep hostile-
 * input safe.
 *
 * Names are matched by namespace URI and local name (never by prefix).
 * A property's value (PROPPATCH) and a lock's owner are kept as XML text
 * that stands on its own: each element in it declares its namespace
 * (xmlns="..." where it changes), attributes in a namespace get their
 * own prefix, text is escaped again; so written back inside any element
 * it means what it meant. */
#ifndef FERRY_PROTO_DAVXML_H
#define FERRY_PROTO_DAVXML_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"

#define DAVXML_BODY_MAX (128u << 10) /* a request body we parse */
#define DAVXML_DEPTH_MAX 64          /* element nesting */
#define DAVXML_ELEMS_MAX 10000       /* elements in one body */
#define DAVXML_PROPS_MAX 256         /* properties named in one body */
#define DAVXML_ARENA (256u << 10)    /* names, values and owner kept */
#define DAVXML_NS "DAV:"
#define DAVXML_XML_NS "http://www.w3.org/XML/1998/namespace"

enum davxml_kind { DAVXML_PROPFIND, DAVXML_PROPPATCH, DAVXML_LOCKINFO };

/* What a PROPFIND asks for. */
enum davxml_find {
    DAVXML_ALLPROP,  /* <allprop/>, or no body (§9.1) */
    DAVXML_PROPNAME, /* <propname/> */
    DAVXML_PROP,     /* <prop> with the names in props */
};

enum davxml_scope { DAVXML_SCOPE_NONE, DAVXML_EXCLUSIVE, DAVXML_SHARED };

/* A property: its name always, and for a PROPPATCH set its value. All
 * strings are NUL-terminated and point into the davxml_req's arena. */
struct davxml_prop {
    const char *ns;    /* namespace URI; "" for none */
    const char *name;  /* local name */
    const char *lang;  /* xml:lang on the property element; NULL if none */
    const char *value; /* set: the content as XML text (see above); "" when empty */
    size_t value_len;
    bool remove; /* PROPPATCH: <remove> (else <set>) */
};

struct davxml_req {
    enum davxml_kind kind;
    bool empty;            /* the body was empty (PROPFIND: allprop; LOCK: a refresh) */
    enum davxml_find find; /* PROPFIND */
    size_t nprops;         /* PROPFIND prop (and allprop's include); PROPPATCH in order */
    struct davxml_prop props[DAVXML_PROPS_MAX];
    enum davxml_scope scope; /* LOCK */
    bool write;              /* LOCK: locktype write was given */
    const char *owner;       /* LOCK: the owner element's content as XML text; NULL if none */
    size_t owner_len;
    size_t used; /* bytes of arena used */
    char arena[DAVXML_ARENA];
};

/* Parses body[0..len) as a request body of kind into *out (large: allocate
 * it). An empty body (only white space) sets out->empty and is valid for
 * PROPFIND (allprop) and LOCK (a refresh), not for PROPPATCH. Returns 0;
 * -EBADMSG for XML that is not well-formed or not the body kind (wrong
 * root, PROPPATCH without a property, LOCK without scope or type, a
 * PROPFIND with two of allprop/propname/prop), -EPERM for a DOCTYPE or
 * entity declaration (refused whatever it says), -E2BIG past a limit
 * above, -ENOMEM. Not thread-bound; no I/O. */
int davxml_parse(enum davxml_kind kind, const char *body, size_t len, struct davxml_req *out);

/* Appends s[0..len) escaped for XML text and attribute values (& < > " '
 * as entities; control bytes other than tab, LF and CR, which XML 1.0
 * cannot carry, are dropped). 0 or -errno (-ENOBUFS when out is full). */
int davxml_escape(struct buf *out, const char *s, size_t len);

/* Appends the href of rel (a normalised path beneath the root, "." for the
 * root): "/" then each byte outside RFC 3986's unreserved set and "/"
 * percent-encoded, then "/" when dir (and rel is not "."). 0 or -errno. */
int davxml_href(struct buf *out, const char *rel, bool dir);

/* Appends the opening tag of property ns:name as an element of its own:
 * "<D:name" for DAV:, "<name" with xmlns="" for no namespace, else
 * "<P:name xmlns:P=\"ns\"" (escaped); then "/>" when empty, else ">".
 * davxml_prop_close appends the matching end tag. 0 or -errno. */
int davxml_prop_open(struct buf *out, const char *ns, const char *name, bool empty);
int davxml_prop_close(struct buf *out, const char *ns, const char *name);

#endif
