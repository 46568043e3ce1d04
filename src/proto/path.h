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

/* Names ferry keeps beside served files for uploads under way: temporary
 * files, partial data and the upload state (".ferry-up" and what follows).
 * They are never listed, served, or written by a request, --hidden or not. */
#define PATH_RESERVED_PREFIX ".ferry-up"
bool path_reserved(const char *name, size_t len);

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
