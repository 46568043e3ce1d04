/* listing: the HTML page for a directory without index.html. */
#ifndef FERRY_APP_LISTING_H
#define FERRY_APP_LISTING_H

#include <stdbool.h>

#include "core/buf.h"

/* Appends the listing page of the directory open at dirfd to out. rel is
 * the directory's normalised path beneath rootfd ("." for the root); a
 * symbolic link is listed only when it resolves beneath rootfd. Entries are
 * sorted, directories first; names starting with "." are left out unless
 * hidden. Returns 0 or -errno (-ENOBUFS when the page passes out's cap). */
int listing_build(int rootfd, int dirfd, const char *rel, bool hidden, struct buf *out);

/* Writes size the way a person reads it ("912 B", "1.5 KiB", "3.0 GiB"). */
void listing_human_size(unsigned long long size, char *out, size_t outsz);

#endif
