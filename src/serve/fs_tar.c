/* The tar format of the archive walker (fs_archive.h): a ustar (or pax)
 * header before each member (proto/tar), zero padding to the next 512-byte
 * block after a file's bytes, two zero blocks at the end. Keeps only the
 * current file's padding. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "proto/tar.h"
#include "serve/fs_archive.h"

struct tar_state {
    uint64_t pad; /* after the current file */
};

static int tar_open(void **state)
{
    *state = calloc(1, sizeof(struct tar_state));
    return *state != NULL ? 0 : -ENOMEM;
}

static int tar_member(void *state, struct buf *page, const char *name, size_t len,
                      const struct stat *st)
{
    struct tar_state *ts = state;
    bool dir = S_ISDIR(st->st_mode);
    struct tar_member m = {.name = name,
                           .name_len = len,
                           .type = dir ? TAR_DIR : TAR_FILE,
                           .size = dir ? 0 : (uint64_t)st->st_size,
                           .mode = (uint32_t)st->st_mode,
                           .mtime = (int64_t)st->st_mtime};
    char *p = buf_reserve(page, TAR_HEADER_MAX);
    if (p == NULL)
        return -ENOBUFS;
    long n = tar_header(&m, p, TAR_HEADER_MAX);
    if (n < 0)
        return (int)n;
    buf_commit(page, (size_t)n);
    ts->pad = tar_pad(m.size);
    return 0;
}

static int tar_file_end(void *state, struct buf *page)
{
    struct tar_state *ts = state;
    char *p = buf_reserve(page, (size_t)ts->pad);
    if (p == NULL)
        return -ENOBUFS;
    memset(p, 0, (size_t)ts->pad);
    buf_commit(page, (size_t)ts->pad);
    return 0;
}

static int tar_end(void *state, struct buf *page, size_t reserve)
{
    (void)state;
    if (buf_room(page) < TAR_END_LEN + reserve)
        return 0;
    memset(page->data + page->wpos, 0, TAR_END_LEN);
    buf_commit(page, TAR_END_LEN);
    return 1;
}

static void tar_close(void *state)
{
    free(state);
}

const struct archive_format fs_tar_format = {
    .type = "application/x-tar",
    .ext = ".tar",
    .member_max = TAR_HEADER_MAX,
    .open = tar_open,
    .member = tar_member,
    .data = NULL,
    .file_end = tar_file_end,
    .end = tar_end,
    .close = tar_close,
};
