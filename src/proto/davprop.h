/* davprop: WebDAV property decisions and the dead-property formats. Pure.
 *
 * Live properties are the ones the server computes (RFC 4918 §15, RFC 4331
 * quotas); all are protected: a PROPPATCH of one is 403
 * cannot-modify-protected-property. Dead properties are kept
 *   - in an extended attribute of the file itself: the name
 *     "user.dav:{NS}LOCAL" (Clark notation: the namespace URI exactly, then
 *     the local name, which cannot hold "}"), the value "LANG\0XML" (the
 *     property's xml:lang, empty when none, then its value as XML text);
 *   - or, where the file system refuses user attributes, in a sidecar file
 *     of records "{NS}LOCAL\0LANG\0XML\0" one after another (none of the
 *     three can hold a NUL: XML cannot carry one). */
#ifndef FERRY_PROTO_DAVPROP_H
#define FERRY_PROTO_DAVPROP_H

#include <stdbool.h>
#include <stddef.h>

#define DAVPROP_XATTR_PREFIX "user.dav:"
#define DAVPROP_XATTR_NAME_MAX 255 /* XATTR_NAME_MAX */

/* The live properties, in the order allprop and propname list them. */
enum davprop_live {
    DAVPROP_CREATIONDATE,
    DAVPROP_DISPLAYNAME,
    DAVPROP_GETCONTENTLENGTH,
    DAVPROP_GETCONTENTTYPE,
    DAVPROP_GETETAG,
    DAVPROP_GETLASTMODIFIED,
    DAVPROP_RESOURCETYPE,
    DAVPROP_SUPPORTEDLOCK,
    DAVPROP_LOCKDISCOVERY,
    DAVPROP_QUOTA_AVAILABLE, /* RFC 4331: only when asked by name */
    DAVPROP_QUOTA_USED,
    DAVPROP_NLIVE,
};

/* The local name (in DAV:) of live property p. */
const char *davprop_live_name(enum davprop_live p);

/* Which live property ns:name is; -1 when none. */
int davprop_live_find(const char *ns, const char *name);

/* Whether live property p applies to a collection (dir) or a file:
 * getcontentlength, getcontenttype and getetag are for files only. */
bool davprop_live_applies(enum davprop_live p, bool dir);

/* Whether allprop and propname list p (the quotas are not: RFC 4331 §3). */
bool davprop_live_in_allprop(enum davprop_live p);

/* Writes the attribute name of dead property ns:name to out (outsz bytes)
 * NUL-terminated. Returns its length, or -ENAMETOOLONG past
 * DAVPROP_XATTR_NAME_MAX, -EINVAL for a local name with "}" or none. */
long davprop_key(const char *ns, const char *name, char *out, size_t outsz);

/* Splits a key "...{NS}LOCAL" (after any prefix the caller skipped) in
 * place: *ns and *name point into key (the "}" becomes NUL). Returns 0, or
 * -EINVAL when it is not one. */
int davprop_key_split(char *key, const char **ns, const char **name);

/* One sidecar record. */
struct davprop_rec {
    const char *key; /* "{NS}LOCAL" */
    const char *lang;
    const char *value;
    size_t value_len;
};

/* Reads the record at *off of p[0..len) and advances *off. Returns 1 with
 * r set, 0 at the end, -EINVAL for a record cut short. Pure: r points into p. */
int davprop_rec_next(const char *p, size_t len, size_t *off, struct davprop_rec *r);

#endif
