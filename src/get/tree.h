/* tree: `ferry get -r URL/`: a folder tree, file by file.
 *
 * Each folder's listing is fetched (asking for ferry's JSON listing with
 * Accept: application/json, and reading any other server's HTML page for
 * its links), its entries are the links right beneath the folder
 * (proto/tree: no other host, no parent, no "?sort" or "?tar" variant),
 * folders are made as they are found and files are then all fetched by
 * fetch_run, one connection and pipelined, each through NAME.part and its
 * digest check like any single download. Local names are tree_safe_name's,
 * so no listing can make a path outside the tree's folder, and a folder
 * that is there already is entered only when it is a real folder (never
 * through a symbolic link). The walk is bounded: TREE_MAX_DEPTH levels,
 * TREE_MAX_ENTRIES entries, a listing of at most TREE_LISTING_MAX bytes. */
#ifndef FERRY_GET_TREE_H
#define FERRY_GET_TREE_H

#include "get/fetch.h"

#define TREE_MAX_DEPTH 32
#define TREE_MAX_ENTRIES 100000
#define TREE_LISTING_MAX (64u << 20)

/* Downloads the tree beneath each URL of o into a folder named as the
 * URL's last segment (the host's name for "/"), inside o->outdir when set.
 * Returns the first failure (a listing that cannot be read: FETCH_PROTOCOL;
 * past a bound: FETCH_PROTOCOL, after fetching what was found), or
 * FETCH_OK. */
enum fetch_result tree_run(const struct fetch_options *o);

#endif
