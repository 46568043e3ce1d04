/* fs_archive: what the archive walker (fs_archive.c) and its formats
 * (fs_tar.c, fs_zip.c) share, and nobody else sees.
 *
 * The walker decides which entries go in (the rights gate, links, hidden
 * names), opens them and moves file bytes into the page; a format writes
 * the records around them. A format never sees a descriptor. */
#ifndef FERRY_SERVE_FS_ARCHIVE_H
#define FERRY_SERVE_FS_ARCHIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "core/buf.h"

struct archive_format {
    const char *type; /* Content-Type */
    const char *ext;  /* the file name's extension, with its "." */
    /* The most one member's records take: its header, or the previous
     * file's trailer; the walker leaves that much room before each. */
    size_t member_max;
    /* Sets up the format's state in *state. 0 or -errno. */
    int (*open)(void **state);
    /* Writes into page the header of the member name[0..len) (a
     * directory's ends in "/"), st as fstat gave it: a file's size is
     * what follows, whatever the file does later. 0, or -errno to leave
     * the member out (nothing written). */
    int (*member)(void *state, struct buf *page, const char *name, size_t len,
                  const struct stat *st);
    /* The file bytes p[0..n) just put in the page (NULL: none needed). */
    void (*data)(void *state, const char *p, size_t n);
    /* Writes what follows a file's bytes into page (at most member_max
     * bytes). 0 or -errno (the archive is then cut). */
    int (*file_end)(void *state, struct buf *page);
    /* Writes the end of the archive, as much as fits in page's room less
     * reserve bytes. 1 when all of it is out, 0 when more is to come,
     * -errno. */
    int (*end)(void *state, struct buf *page, size_t reserve);
    void (*close)(void *state);
};

extern const struct archive_format fs_tar_format; /* fs_tar.c */
extern const struct archive_format fs_zip_format; /* fs_zip.c */

#endif
