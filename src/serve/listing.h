/* listing: the HTML page for a directory without index.html.
 *
 * The page is made in three steps: listing_read gathers the entries (the
 * only step that touches the file system), listing_sort orders them, and
 * listing_format writes the page (pure: the same input always gives the
 * same bytes). The page sorts by name, size or date through plain links
 * (?sort=name|size|date&order=asc|desc), shows breadcrumbs, a ".." row
 * below the root, a tar download link, and, where the user may write, the
 * upload, new-folder and delete controls. Its one inline style and one
 * inline script are allowed by listing_csp's hashes and nothing else is:
 * no external resource of any kind. */
#ifndef FERRY_SERVE_LISTING_H
#define FERRY_SERVE_LISTING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

enum listing_key { LISTING_BY_NAME, LISTING_BY_SIZE, LISTING_BY_DATE };

struct listing_order {
    enum listing_key key;
    bool desc;
};

struct listing_entry {
    char *name; /* owned (listing_read) */
    bool dir;
    uint64_t size;
    int64_t mtime;
};

/* What the page is about, besides its entries. */
struct listing_page {
    const char *rel;            /* the directory beneath the root; "." for the root */
    struct listing_order order; /* how the entries were sorted */
    bool writable;              /* show the upload, new folder and delete controls */
    /* listing_read lists an entry only when keep says so (NULL: every
     * one, and no path is looked up). It gets the entry's name in the
     * folder and its real path beneath the root ("a/b", no "./"): where
     * the entry really is, for a symbolic link where it resolves (from the
     * descriptor whose size and date the row would show). */
    bool (*keep)(void *arg, const char *name, const char *real);
    void *keep_arg;
};

/* Reads the order from a query string q[0..len) (after "?"): fields split
 * on "&", "sort=name", "sort=size", "sort=date", "order=asc", "order=desc",
 * spelled exactly so (no escapes, no case folding). A sort or order field
 * with any other value gives the default for it (name, asc); other fields
 * are ignored; a later field wins over an earlier one. Pure. */
void listing_order_parse(const char *q, size_t len, struct listing_order *o);

/* Reads the entries of the directory open at dirfd, named p->rel beneath
 * rootfd, into a new array (*out, *count). A symbolic link is listed only
 * when it resolves beneath rootfd, as what it points at; only directories
 * and regular files are listed; names starting with "." only when hidden;
 * with p->keep only the entries it keeps. Returns 0 or -errno (-ENOBUFS
 * past 200000 entries, -EACCES when p->keep is set and dirfd is not
 * beneath rootfd). Free with listing_free. */
int listing_read(int rootfd, int dirfd, const struct listing_page *p, bool hidden,
                 struct listing_entry **out, size_t *count);
void listing_free(struct listing_entry *v, size_t n);

/* Sorts v: directories first, then by o's key (name in byte order, size,
 * modification time), ties by name ascending. */
void listing_sort(struct listing_entry *v, size_t n, struct listing_order o);

/* Appends the page for v[0..n) (in the order given) to out. Names are
 * HTML-escaped in text and percent-encoded in links. Returns 0 or -errno
 * (-ENOBUFS when the page passes out's cap). Pure. */
int listing_format(const struct listing_page *p, const struct listing_entry *v, size_t n,
                   struct buf *out);

/* listing_read, listing_sort by p->order and listing_format in one call. */
int listing_build(int rootfd, int dirfd, const struct listing_page *p, bool hidden,
                  struct buf *out);

/* Writes the page's Content-Security-Policy to out (outsz bytes, 256 is
 * enough): default-src 'none', the page's own script and style allowed by
 * their SHA-256 hashes, requests only to this origin. Returns 0 or -errno. */
int listing_csp(char *out, size_t outsz);

#endif
