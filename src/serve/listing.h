/* listing: the HTML page for a directory without index.html.
 *
 * The page is made in three steps: listing_read gathers the entries (the
 * only step that touches the file system), listing_sort orders them, and
 * listing_format writes the page (pure: the same input always gives the
 * same bytes). To serve it, listing_snap_get keeps the sorted entries as a
 * shared, immutable snapshot (one per directory version and order, on the
 * worker's listing_cache while anyone holds it), and a listing_cursor per
 * response writes the page from it a window at a time (listing_fill): a
 * slow reader holds a reference and a position, never the page.
 *
 * The page sorts by name, size or date through plain links
 * (?sort=name|size|date&order=asc|desc), shows breadcrumbs, a ".." row
 * below the root, a tar download link, and, where the user may write, the
 * upload, new-folder and delete controls. Its inline style and two inline
 * scripts (src/serve/page, embedded at build time: serve/page/page.h) are
 * allowed by listing_csp's hashes and nothing else is: no external
 * resource of any kind.
 *
 * With page.json the same cursor writes the listing as JSON instead
 * (`Accept: application/json`, for `ferry get -r` and scripts):
 *   {"path":"/d/","entries":[
 *   {"name":"a.txt","href":"a.txt","type":"file","size":3,"mtime":1700000000},
 *   {"name":"sub","href":"sub/","type":"dir","size":0,"mtime":1700000000}
 *   ]}
 * name is the entry's name as a JSON string (json_put_string: a byte that
 * is not well-formed UTF-8 shows as U+FFFD, so it may differ from the
 * real name), href is its exact bytes percent-encoded, relative to the
 * folder ("/" ends a folder's), size is in bytes (0 for a folder), mtime
 * in seconds since the epoch. Rows are in the page's order, and keep
 * applies to them as to the page's. */
#ifndef FERRY_SERVE_LISTING_H
#define FERRY_SERVE_LISTING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

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
    bool link; /* a symbolic link (listed as what it leads to) */
};

/* What the page is about, besides its entries. */
struct listing_page {
    const char *rel;            /* the directory beneath the root; "." for the root */
    struct listing_order order; /* how the entries were sorted */
    bool writable;              /* show the upload, new folder and delete controls */
    uint64_t upload_part;       /* writable: the page's resumable upload part size (bytes) */
    bool json;                  /* the JSON listing instead of the page */
    /* listing_fill lists an entry only when keep says so (NULL: every
     * one, and no path is looked up), asked as its row is made. It gets
     * two paths beneath the root ("a/b", no "./"): the entry as listed
     * (rel and its name) and where it really is, for a symbolic link
     * where it resolves (from the descriptor whose size and date the row
     * shows). keep_arg must live as long as the cursor. */
    bool (*keep)(void *arg, const char *listed, const char *real);
    void *keep_arg;
};

struct listing_snap;

/* The snapshots of one worker that someone holds (no lock: one thread).
 * Zero-initialised it is empty; it owns nothing, so it needs no freeing. */
struct listing_cache {
    struct listing_snap *live;
};

/* Where a page is in being written. Fill in page and snap with
 * listing_cursor_init; the cursor holds a reference to snap. */
struct listing_cursor {
    struct listing_page page; /* page.rel must outlive the cursor */
    struct listing_snap *snap;
    int rootfd, dirfd; /* dirfd >= 0: each row shows the entry as it is now */
    char *realdir;     /* with page.keep: the folder's real path beneath the root (owned) */
    int phase;         /* which part of the page comes next */
    size_t pos;        /* a row's index, or a breadcrumb's offset in rel */
    struct buf *part;  /* a part bigger than the window, being given out; or NULL */
    size_t shown;      /* rows written so far (JSON puts a comma before all but the first) */
};

/* Reads the order from a query string q[0..len) (after "?"): fields split
 * on "&", "sort=name", "sort=size", "sort=date", "order=asc", "order=desc",
 * spelled exactly so (no escapes, no case folding). A sort or order field
 * with any other value gives the default for it (name, asc); other fields
 * are ignored; a later field wins over an earlier one. Pure. */
void listing_order_parse(const char *q, size_t len, struct listing_order *o);

/* Reads the entries of the directory open at dirfd, named rel beneath
 * rootfd, into a new array (*out, *count). A symbolic link is listed only
 * when it resolves beneath rootfd, as what it points at; only directories
 * and regular files are listed; names starting with "." only when hidden.
 * Returns 0 or -errno (-ENOBUFS past 200000 entries). Free with
 * listing_free. */
int listing_read(int rootfd, int dirfd, const char *rel, bool hidden, struct listing_entry **out,
                 size_t *count);
void listing_free(struct listing_entry *v, size_t n);

/* Sorts v: directories first, then by o's key (name in byte order, size,
 * modification time), ties by name ascending. */
void listing_sort(struct listing_entry *v, size_t n, struct listing_order o);

/* Appends the page for v[0..n) (in the order given) to out. Names are
 * HTML-escaped in text and percent-encoded in links. Returns 0 or -errno
 * (-ENOBUFS when the page passes out's cap). Pure. */
int listing_format(const struct listing_page *p, const struct listing_entry *v, size_t n,
                   struct buf *out);

/* Makes a snapshot of v[0..n) sorted by o (v is sorted in place; the
 * names are copied): one allocation, one reference, on no cache. Returns 0
 * or -errno. */
int listing_snap_make(struct listing_entry *v, size_t n, struct listing_order o,
                      struct listing_snap **out);

/* A reference to the snapshot of the directory open at dirfd (named rel
 * beneath rootfd) in order o: the one on cache when the directory has not
 * changed since it was read (same device, inode, mtime and ctime), else a
 * new one from listing_read, put on cache (when not NULL) unless the
 * directory changed too recently to tell a later change by its times.
 * In name order the snapshot holds names and kinds only: a plain file's or
 * folder's size and date are 0 in it (a link is still stat'ed), so its
 * cursor must be given the dirfd, whose fresh fstatat of each row fills
 * them. Returns 0 or listing_read's -errno. Drop with listing_snap_put. */
int listing_snap_get(struct listing_cache *cache, int rootfd, int dirfd, const char *rel,
                     bool hidden, struct listing_order o, struct listing_snap **out);

/* Drops a reference (and *sp becomes NULL); the last one takes the
 * snapshot off its cache and frees it. NULL does nothing. */
void listing_snap_put(struct listing_snap **sp);

/* Starts the page p for snap (taking a new reference to it) at its first
 * byte. rootfd and dirfd (-1: none) are where rows are looked at again;
 * both stay the caller's and must outlive the cursor. With p->keep, the
 * folder's real path is found here (a row is then kept only when dirfd
 * shows it as it is now; without dirfd, as in tests, keep gets the listed
 * path for the real one). Returns 0 or -errno (then nothing to free). */
int listing_cursor_init(struct listing_cursor *cur, const struct listing_page *p,
                        struct listing_snap *snap, int rootfd, int dirfd);

/* Appends the next bytes of the page to out until out is full, the page
 * ends, or LISTING_ROWS_PER_FILL rows were looked at (so a user who may see
 * few of many entries costs bounded work per call; then nothing may have
 * been appended). Every window size gives the same bytes as listing_format
 * of the snapshot's entries, less those keep refuses or that are gone.
 * Returns 0 or -errno. */
int listing_fill(struct listing_cursor *cur, struct buf *out);

/* The number of entries in the cursor's snapshot. */
size_t listing_cursor_count(const struct listing_cursor *cur);

/* Entry i of the cursor's snapshot as it is now, for a caller that writes
 * rows of its own (PROPFIND): *name (in the snapshot), *st what it is (a
 * link's target beneath the root) and *link whether it is a link. Returns
 * 0, or 1 when it is left out as listing_fill would leave it out: gone,
 * neither file nor directory, keep refuses it, or the cursor has no
 * directory (dirfd < 0). */
int listing_cursor_row(const struct listing_cursor *cur, size_t i, const char **name,
                       struct stat *st, bool *link);

/* The page is all out. */
bool listing_done(const struct listing_cursor *cur);

/* Drops the cursor's reference and its part. */
void listing_cursor_free(struct listing_cursor *cur);

/* listing_snap_get (no cache) and listing_fill into out, for the whole
 * page: -ENOBUFS when it passes out's cap. */
int listing_build(int rootfd, int dirfd, const struct listing_page *p, bool hidden,
                  struct buf *out);

/* Writes the page's Content-Security-Policy to out (outsz bytes, 384 is
 * enough): default-src 'none', the page's own script and style allowed by
 * their SHA-256 hashes, requests only to this origin. Returns 0 or -errno. */
int listing_csp(char *out, size_t outsz);

#endif
