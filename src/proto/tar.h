/* tar: pure formatting of POSIX tar (ustar, pax) member headers.
 *
 * A member is its header block(s), its bytes, and zero padding to the next
 * 512-byte boundary; an archive ends with two zero blocks. A name that does
 * not fit ustar's 100-byte name field (nor its 155-byte prefix split at a
 * "/"), or a size of 8 GiB or more, is carried the standard POSIX.1-2001 way:
 * a pax extended header ('x') with "path" or "size" records before the
 * ustar block. Pure: no I/O, no allocation. */
#ifndef FERRY_PROTO_TAR_H
#define FERRY_PROTO_TAR_H

#include <stddef.h>
#include <stdint.h>

#define TAR_BLOCK 512
#define TAR_NAME_MAX 8192                             /* longest member name accepted */
#define TAR_HEADER_MAX (3 * TAR_BLOCK + TAR_NAME_MAX) /* the most tar_header writes */
#define TAR_END_LEN (2 * TAR_BLOCK)                   /* the two zero blocks that end an archive */

#define TAR_FILE '0'
#define TAR_DIR '5'

struct tar_member {
    const char *name; /* no NUL inside; a directory's ends in "/" */
    size_t name_len;
    char type;     /* TAR_FILE or TAR_DIR */
    uint64_t size; /* 0 for a directory */
    uint32_t mode; /* permission bits; only 0777 are kept */
    int64_t mtime; /* seconds since the epoch; clamped to what ustar holds */
};

/* Writes the header of m to out (outsz bytes; TAR_HEADER_MAX is always
 * enough): a pax header with its records when needed, then the ustar block.
 * Returns the bytes written (a multiple of 512), -ENAMETOOLONG for an empty
 * name or one longer than TAR_NAME_MAX, -EINVAL for a NUL in the name or an
 * unknown type, -ENOBUFS when outsz is too small. Owner and group are
 * written as 0 with empty names: the archive says nothing about the
 * server's accounts. */
long tar_header(const struct tar_member *m, char *out, size_t outsz);

/* Zero bytes that follow a member of size bytes (0 to 511). */
size_t tar_pad(uint64_t size);

#endif
