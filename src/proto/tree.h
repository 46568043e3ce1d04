/* tree: the pure decisions of `ferry get -r`: which links of a listing
 * are its entries, and what local name an entry may have. Pure. */
#ifndef FERRY_PROTO_TREE_H
#define FERRY_PROTO_TREE_H

#include <stdbool.h>
#include <stddef.h>

/* What a link of a listing is, seen from the listing's folder. */
enum tree_link {
    TREE_CHILD,    /* an entry right beneath the folder: name and dir are set */
    TREE_OUTSIDE,  /* another host or scheme, a parent, a sibling, a deeper path */
    TREE_SELF,     /* the folder itself (a link to "./" or to a sort order) */
    TREE_VARIANT,  /* a link with a query (?sort=..., ?tar, ?C=N;O=D): not an entry */
    TREE_BAD_NAME, /* beneath the folder, but its name cannot be saved (tree_safe_name) */
};

/* The longest name an entry may have, in bytes (as NAME_MAX). */
#define TREE_NAME_MAX 255

/* An entry right beneath a listing's folder. */
struct tree_child {
    char raw[TREE_NAME_MAX + 1];  /* its name as the server has it (decoded; no "/", no NUL) */
    char name[TREE_NAME_MAX + 1]; /* the local name: tree_safe_name of raw */
    bool dir;                     /* a folder: its link ends in "/" */
};

/* Resolves the link href[0..len) (HTML entities already decoded) found in
 * the listing of the folder at base, an absolute URL path ending in "/"
 * (percent-encoded as sent, no query), on the server origin
 * ("http://host:port", as written in absolute links to it; compared
 * case-insensitively). A fragment is cut; any query makes a variant;
 * "." and ".." segments (also spelled %2e) are resolved; each segment is
 * percent-decoded and a segment that decodes to a "/" or a NUL byte makes
 * the name bad. A child is the folder's path plus one segment, a folder
 * when a "/" ends it; for TREE_CHILD, *out describes it. */
enum tree_link tree_link(const char *origin, const char *base, const char *href, size_t len,
                         struct tree_child *out);

/* Makes the local name for an entry named in[0..len) (bytes, decoded):
 * control bytes (below 0x20, DEL) and "\" become "_". Refused with
 * -EINVAL: an empty name, ".", "..", one holding "/" or a NUL; with
 * -ENAMETOOLONG: one longer than TREE_NAME_MAX or than out (outsz). */
int tree_safe_name(const char *in, size_t len, char *out, size_t outsz);

/* Calls cb for the href of each <a> element in the HTML html[0..len), its
 * value's HTML character references (&amp; &lt; &gt; &quot; &#39; and
 * numeric ones below 128) decoded into scratch (scratchsz bytes; a longer
 * value is passed over). A non-zero return of cb stops the scan and is
 * returned; else 0. */
int tree_html_links(const char *html, size_t len, char *scratch, size_t scratchsz,
                    int (*cb)(void *arg, const char *href, size_t hlen), void *arg);

#endif
