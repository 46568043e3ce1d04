/* The zip format of the archive walker (fs_archive.h): for each member a
 * local header (proto/zip), a file's bytes stored as they are, then its
 * data descriptor with the CRC-32 (zlib's crc32) counted on the way; at
 * the end the central directory and the end records, zip64 where sizes,
 * offsets or the count need it.
 *
 * The central directory is the one thing kept: each member's record is
 * made when its header goes out (the CRC filled in after the file's
 * bytes) into a buffer of at most ZIP_CD_MAX bytes, some 60 bytes and the
 * name an entry. A folder whose directory would pass that is cut (the
 * client sees a broken download, not a zip missing files). Times: the DOS
 * time and date are the server's local time, the extended timestamp
 * UTC. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include "proto/zip.h"
#include "serve/fs_archive.h"

#define ZIP_CD_MAX (128u << 20) /* central directory bytes kept, at most */
#define ZIP_CRC_AT 16           /* the CRC's place in a central record */

struct zip_state {
    uint64_t offset;      /* archive bytes made so far */
    uint64_t entries;     /* central records */
    struct buf cd;        /* the central directory so far */
    size_t crc_at;        /* cd offset of the current file's CRC */
    struct zip_entry cur; /* the current file (no name: the descriptor needs none) */
    bool ending;          /* the central directory is going out */
    struct zip_end end;
};

static int zip_open(void **state)
{
    struct zip_state *z = calloc(1, sizeof *z);
    if (z == NULL)
        return -ENOMEM;
    buf_init(&z->cd, ZIP_CD_MAX);
    *state = z;
    return 0;
}

static int zip_member(void *state, struct buf *page, const char *name, size_t len,
                      const struct stat *st)
{
    struct zip_state *z = state;
    bool dir = S_ISDIR(st->st_mode);
    struct zip_entry e = {.name = name,
                          .name_len = len,
                          .dir = dir,
                          .size = dir ? 0 : (uint64_t)st->st_size,
                          .offset = z->offset,
                          .mode = (uint32_t)st->st_mode,
                          .mtime = (int64_t)st->st_mtime};
    struct tm tm;
    time_t t = st->st_mtime;
    if (localtime_r(&t, &tm) != NULL)
        zip_dos_time(&tm, &e.dos_time, &e.dos_date);

    /* The central record first: when it does not fit, nothing is out. */
    char *c = buf_reserve(&z->cd, ZIP_CENTRAL_MAX);
    if (c == NULL)
        return -EFBIG;
    long cn = zip_central(&e, c, ZIP_CENTRAL_MAX);
    if (cn < 0)
        return (int)cn;
    char *p = buf_reserve(page, ZIP_LOCAL_MAX);
    if (p == NULL)
        return -ENOBUFS;
    long n = zip_local(&e, p, ZIP_LOCAL_MAX);
    if (n < 0)
        return (int)n;
    buf_commit(page, (size_t)n);
    z->crc_at = z->cd.wpos + ZIP_CRC_AT;
    buf_commit(&z->cd, (size_t)cn);
    z->entries++;
    z->offset += (uint64_t)n;
    z->cur = e;
    z->cur.name = NULL;
    z->cur.crc = (uint32_t)crc32(0L, Z_NULL, 0);
    return 0;
}

static void zip_data(void *state, const char *p, size_t n)
{
    struct zip_state *z = state;
    z->cur.crc = (uint32_t)crc32(z->cur.crc, (const Bytef *)p, (uInt)n); /* n <= a page */
    z->offset += n;
}

static int zip_file_end(void *state, struct buf *page)
{
    struct zip_state *z = state;
    char *p = buf_reserve(page, ZIP_DESCRIPTOR_MAX);
    if (p == NULL)
        return -ENOBUFS;
    long n = zip_descriptor(&z->cur, p, ZIP_DESCRIPTOR_MAX);
    if (n < 0)
        return (int)n;
    buf_commit(page, (size_t)n);
    z->offset += (uint64_t)n;
    unsigned char *c = (unsigned char *)z->cd.data + z->crc_at;
    for (int i = 0; i < 4; i++)
        c[i] = (unsigned char)(z->cur.crc >> (8 * i));
    return 0;
}

static int zip_end_part(void *state, struct buf *page, size_t reserve)
{
    struct zip_state *z = state;

    if (!z->ending) {
        z->ending = true;
        z->end = (struct zip_end){
            .entries = z->entries, .cd_size = buf_len(&z->cd), .cd_offset = z->offset};
    }
    size_t room = buf_room(page) > reserve ? buf_room(page) - reserve : 0;
    size_t n = buf_len(&z->cd) < room ? buf_len(&z->cd) : room;
    if (n > 0) {
        memcpy(page->data + page->wpos, buf_rptr(&z->cd), n);
        buf_commit(page, n);
        buf_consume(&z->cd, n);
        room -= n;
    }
    if (buf_len(&z->cd) > 0 || room < ZIP_END_MAX)
        return 0;
    long e = zip_end(&z->end, page->data + page->wpos, room);
    if (e < 0)
        return (int)e;
    buf_commit(page, (size_t)e);
    buf_free(&z->cd);
    return 1;
}

static void zip_close(void *state)
{
    struct zip_state *z = state;
    buf_free(&z->cd);
    free(z);
}

const struct archive_format fs_zip_format = {
    .type = "application/zip",
    .ext = ".zip",
    .member_max = ZIP_LOCAL_MAX,
    .open = zip_open,
    .member = zip_member,
    .data = zip_data,
    .file_end = zip_file_end,
    .end = zip_end_part,
    .close = zip_close,
};
