/* path: request targets and raw file names to paths beneath a root.
 *
 * The output is a relative path with no empty, "." or ".." segments, or "."
 * for the root itself, ready for fsx_open_beneath. Pure: no I/O. */
#ifndef FERRY_PROTO_PATH_H
#define FERRY_PROTO_PATH_H

#include <stdbool.h>
#include <stddef.h>

#define PATH_MAX_LEN 4096

#define PATH_TRAILING_SLASH 0x1 /* the input ended in "/" */
#define PATH_HIDDEN 0x2         /* a segment starts with "." */
#define PATH_RESERVED 0x4       /* a segment is ferry's own (path_reserved): never served */
#define PATH_MAC_META 0x8       /* the only hidden segment is the last, a path_mac_meta name */

/* Names ferry keeps beside served files for uploads under way: temporary
 * files, partial data and the upload state (".ferry-up" and what follows).
 * They are never listed, served, or written by a request, --hidden or not. */
#define PATH_RESERVED_PREFIX ".ferry-up"
bool path_reserved(const char *name, size_t len);

/* Whether name[0..len) is one of the files macOS writes beside the ones it
 * copies: "._NAME" (AppleDouble: the resource fork and extended attributes
 * of NAME, on a file system that has none) and ".DS_Store" (the Finder's
 * view of a folder). The Finder gives up a whole copy (error -36) when it
 * may not write them, so the file server lets them be written where the
 * folder may be written (path_refused), hidden or not. */
bool path_mac_meta(const char *name, size_t len);

/* The file server's decision on a normalised path's flags: true when a
 * request may not name it at all. Reserved names always; other hidden
 * names unless hidden (--hidden) is on, except, when mac_meta is on, a
 * path whose only hidden segment is its last and a macOS metadata file
 * (PATH_MAC_META, never with a trailing slash: those are files). Rights on
 * the real object are decided afterwards, as for any name. */
bool path_refused(unsigned flags, bool hidden, bool mac_meta);

/* Normalises in[0..len): segments split on "/" (backslash is an ordinary
 * byte), empty and "." segments dropped, ".." removing the one before it.
 * Writes the result NUL-terminated to out (outsz bytes) and flags to *flags.
 * Returns its length, -EACCES when a ".." would leave the root, -EINVAL for a
 * NUL byte, or -ENAMETOOLONG. */
long path_normalise(const char *in, size_t len, char *out, size_t outsz, unsigned *flags);

/* Turns the path part of a request target into a normalised path: the query
 * and fragment are dropped, then it is percent-decoded exactly once (so
 * "%252e" stays the name "%2e") and normalised. Returns as path_normalise,
 * and -EINVAL also for a bad escape or a target not starting with "/". */
long path_from_target(const char *target, size_t len, char *out, size_t outsz, unsigned *flags);

#endif
