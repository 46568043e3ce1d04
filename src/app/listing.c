#include "app/listing.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/fsx.h"
#include "proto/html.h"
#include "proto/path.h"

#define LISTING_MAX_ENTRIES 200000

struct entry {
    char *name;
    bool dir;
    unsigned long long size;
    time_t mtime;
};

static int cmp_entry(const void *a, const void *b)
{
    const struct entry *x = a, *y = b;
    if (x->dir != y->dir)
        return x->dir ? -1 : 1;
    return strcmp(x->name, y->name);
}

void listing_human_size(unsigned long long size, char *out, size_t outsz)
{
    static const char *const units[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    if (size < 1024) {
        snprintf(out, outsz, "%llu B", size);
        return;
    }
    double v = (double)size / 1024;
    size_t u = 0;
    while (v >= 1024 && u + 1 < sizeof units / sizeof units[0]) {
        v /= 1024;
        u++;
    }
    snprintf(out, outsz, "%.1f %s", v, units[u]);
}

/* Stats one entry. Symbolic links are followed only beneath the root, so a
 * link that leads outside is left out, as it would not be served. */
static int stat_entry(int rootfd, int dirfd, const char *rel, const char *name, struct stat *st)
{
    if (fstatat(dirfd, name, st, AT_SYMLINK_NOFOLLOW) < 0)
        return -errno;
    if (!S_ISLNK(st->st_mode))
        return 0;
    char path[PATH_MAX_LEN + 256];
    int n = strcmp(rel, ".") == 0 ? snprintf(path, sizeof path, "%s", name)
                                  : snprintf(path, sizeof path, "%s/%s", rel, name);
    if (n < 0 || (size_t)n >= sizeof path)
        return -ENAMETOOLONG;
    int fd = fsx_open_beneath(rootfd, path, O_PATH);
    if (fd < 0)
        return fd;
    int rc = fstat(fd, st) < 0 ? -errno : 0;
    close(fd);
    return rc;
}

static int read_entries(int rootfd, int dirfd, const char *rel, bool hidden, struct entry **out,
                        size_t *count)
{
    int fd = dup(dirfd);
    if (fd < 0)
        return -errno;
    DIR *d = fdopendir(fd);
    if (d == NULL) {
        int rc = -errno;
        close(fd);
        return rc;
    }
    rewinddir(d);
    struct entry *v = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    struct dirent *de;

    while ((de = readdir(d)) != NULL) {
        const char *name = de->d_name;
        struct stat st;
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0 || (!hidden && name[0] == '.'))
            continue;
        if (stat_entry(rootfd, dirfd, rel, name, &st) < 0)
            continue;
        if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
            continue;
        if (n == LISTING_MAX_ENTRIES) {
            rc = -ENOBUFS;
            break;
        }
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 64;
            struct entry *nv = realloc(v, ncap * sizeof *nv);
            if (nv == NULL) {
                rc = -ENOMEM;
                break;
            }
            v = nv;
            cap = ncap;
        }
        v[n].name = strdup(name);
        if (v[n].name == NULL) {
            rc = -ENOMEM;
            break;
        }
        v[n].dir = S_ISDIR(st.st_mode);
        v[n].size = (unsigned long long)st.st_size;
        v[n].mtime = st.st_mtime;
        n++;
    }
    closedir(d);
    if (rc < 0) {
        for (size_t i = 0; i < n; i++)
            free(v[i].name);
        free(v);
        return rc;
    }
    *out = v;
    *count = n;
    return 0;
}

static int put_row(struct buf *b, const struct entry *e)
{
    char size[32], when[32];
    struct tm tm;
    size_t len = strlen(e->name);
    int rc;

    if (e->dir)
        snprintf(size, sizeof size, "-");
    else
        listing_human_size(e->size, size, sizeof size);
    gmtime_r(&e->mtime, &tm);
    strftime(when, sizeof when, "%Y-%m-%d %H:%M", &tm);
    rc = buf_puts(b, "<tr><td><a href=\"./");
    if (rc == 0)
        rc = url_encode(b, e->name, len, 0);
    if (rc == 0)
        rc = buf_puts(b, e->dir ? "/\">" : "\">");
    if (rc == 0)
        rc = html_escape(b, e->name, len);
    if (rc == 0)
        rc = buf_printf(b, "%s</a></td><td class=\"s\">%s</td><td>%s</td></tr>\n",
                        e->dir ? "/" : "", size, when);
    return rc;
}

int listing_build(int rootfd, int dirfd, const char *rel, bool hidden, struct buf *out)
{
    struct entry *v = NULL;
    size_t n = 0;
    bool root = strcmp(rel, ".") == 0;
    const char *shown = root ? "" : rel;
    int rc = read_entries(rootfd, dirfd, rel, hidden, &v, &n);

    if (rc < 0)
        return rc;
    if (n > 1)
        qsort(v, n, sizeof *v, cmp_entry);
    rc = buf_puts(out, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
                       "<meta name=\"viewport\" content=\"width=device-width\">"
                       "<title>Index of /");
    if (rc == 0)
        rc = html_escape(out, shown, strlen(shown));
    if (rc == 0)
        rc = buf_puts(out, root ? "" : "/");
    if (rc == 0)
        rc = buf_puts(out, "</title>\n<style>body{font-family:sans-serif;margin:2em}"
                           "td{padding:.2em 1.5em .2em 0}.s{text-align:right}"
                           "th{text-align:left}</style></head>\n<body><h1>Index of /");
    if (rc == 0)
        rc = html_escape(out, shown, strlen(shown));
    if (rc == 0)
        rc = buf_puts(out, root ? "" : "/");
    if (rc == 0)
        rc = buf_puts(out, "</h1>\n<table>\n<tr><th>Name</th><th>Size</th><th>Modified (UTC)</th></tr>\n");
    if (rc == 0 && !root)
        rc = buf_puts(out, "<tr><td><a href=\"../\">../</a></td><td class=\"s\">-</td><td></td></tr>\n");
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = put_row(out, &v[i]);
    if (rc == 0)
        rc = buf_puts(out, "</table>\n</body></html>\n");
    for (size_t i = 0; i < n; i++)
        free(v[i].name);
    free(v);
    return rc;
}
