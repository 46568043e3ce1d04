#include "serve/listing.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/fmt.h"
#include "core/fsx.h"
#include "proto/html.h"
#include "proto/json.h"
#include "proto/path.h"
#include "serve/page/page.h"

#define LISTING_MAX_ENTRIES 200000


static int cmp_name(const struct listing_entry *x, const struct listing_entry *y)
{
    return strcmp(x->name, y->name);
}

/* qsort has no context argument: one comparison function per order. */
#define ORDER_CMP(fn, key_cmp, sign)                                                               \
    static int fn(const void *a, const void *b)                                                    \
    {                                                                                              \
        const struct listing_entry *x = a, *y = b;                                                 \
        if (x->dir != y->dir)                                                                      \
            return x->dir ? -1 : 1;                                                                \
        int k = key_cmp(x, y);                                                                     \
        return k != 0 ? (sign)*k : cmp_name(x, y);                                                 \
    }

static int key_size(const struct listing_entry *x, const struct listing_entry *y)
{
    return x->size < y->size ? -1 : x->size > y->size;
}

static int key_date(const struct listing_entry *x, const struct listing_entry *y)
{
    return x->mtime < y->mtime ? -1 : x->mtime > y->mtime;
}

ORDER_CMP(by_name_asc, cmp_name, 1)
ORDER_CMP(by_name_desc, cmp_name, -1)
ORDER_CMP(by_size_asc, key_size, 1)
ORDER_CMP(by_size_desc, key_size, -1)
ORDER_CMP(by_date_asc, key_date, 1)
ORDER_CMP(by_date_desc, key_date, -1)

void listing_sort(struct listing_entry *v, size_t n, struct listing_order o)
{
    static int (*const cmp[3][2])(const void *, const void *) = {
        [LISTING_BY_NAME] = {by_name_asc, by_name_desc},
        [LISTING_BY_SIZE] = {by_size_asc, by_size_desc},
        [LISTING_BY_DATE] = {by_date_asc, by_date_desc},
    };
    unsigned k = (unsigned)o.key <= LISTING_BY_DATE ? (unsigned)o.key : LISTING_BY_NAME;

    if (n > 1)
        qsort(v, n, sizeof *v, cmp[k][o.desc ? 1 : 0]);
}

/* True when f[0..len) is exactly the NUL-terminated s. */
static bool field_is(const char *f, size_t len, const char *s)
{
    return strlen(s) == len && memcmp(f, s, len) == 0;
}

void listing_order_parse(const char *q, size_t len, struct listing_order *o)
{
    static const char *const keys[] = {
        [LISTING_BY_NAME] = "name", [LISTING_BY_SIZE] = "size", [LISTING_BY_DATE] = "date"};
    size_t i = 0;

    o->key = LISTING_BY_NAME;
    o->desc = false;
    while (i < len) {
        size_t start = i;
        while (i < len && q[i] != '&')
            i++;
        const char *f = q + start;
        size_t flen = i - start;
        i++; /* past the "&" */
        if (flen >= 5 && memcmp(f, "sort=", 5) == 0) {
            o->key = LISTING_BY_NAME;
            for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
                if (field_is(f + 5, flen - 5, keys[k]))
                    o->key = (enum listing_key)k;
        } else if (flen >= 6 && memcmp(f, "order=", 6) == 0) {
            o->desc = field_is(f + 6, flen - 6, "desc");
        }
    }
}

/* Stats one entry. Symbolic links are followed only beneath the root, so a
 * link that leads outside is left out, as it would not be served. *link
 * says whether the entry was one. With real (realsz bytes) it also says
 * where the entry really is beneath the root: dir (dirfd's real path) and
 * name, or for a link the real path of what it resolves to, taken from the
 * very descriptor that was stat'ed. */
static int stat_entry(int rootfd, int dirfd, const char *rel, const char *name, struct stat *st,
                      bool *link, const char *dir, char *real, size_t realsz)
{
    *link = false;
    if (fstatat(dirfd, name, st, AT_SYMLINK_NOFOLLOW) < 0)
        return -errno;
    if (!S_ISLNK(st->st_mode)) {
        if (real == NULL)
            return 0;
        bool top = strcmp(dir, ".") == 0;
        int n = snprintf(real, realsz, "%s%s%s", top ? "" : dir, top ? "" : "/", name);
        return n < 0 || (size_t)n >= realsz ? -ENAMETOOLONG : 0;
    }
    *link = true;
    char path[PATH_MAX_LEN + 256];
    int n = strcmp(rel, ".") == 0 ? snprintf(path, sizeof path, "%s", name)
                                  : snprintf(path, sizeof path, "%s/%s", rel, name);
    if (n < 0 || (size_t)n >= sizeof path)
        return -ENAMETOOLONG;
    int fd = fsx_open_beneath(rootfd, path, O_PATH);
    if (fd < 0)
        return fd;
    int rc = fstat(fd, st) < 0 ? -errno : 0;
    if (rc == 0 && real != NULL)
        rc = fsx_real_rel(rootfd, fd, real, realsz);
    close(fd);
    return rc;
}

void listing_free(struct listing_entry *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i].name);
    free(v);
}

/* listing_read, or with names_only the entries' names and kinds only: a
 * plain file or folder is not stat'ed (its size and date are left 0), a
 * link still is (to list it as what it leads to, beneath the root only). */
static int read_entries(int rootfd, int dirfd, const char *rel, bool hidden, bool names_only,
                        struct listing_entry **out, size_t *count)
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
    struct listing_entry *v = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    struct dirent *de;

    while ((de = readdir(d)) != NULL) {
        const char *name = de->d_name;
        struct stat st;
        bool link;
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0 || (!hidden && name[0] == '.') ||
            path_reserved(name, strlen(name)))
            continue;
        if (names_only && (de->d_type == DT_REG || de->d_type == DT_DIR)) {
            /* What it is comes with the name; its size and date come from
             * the cursor's own fstatat (row_entry_st). */
            memset(&st, 0, sizeof st);
            st.st_mode = de->d_type == DT_DIR ? S_IFDIR : S_IFREG;
            link = false;
        } else if (de->d_type != DT_REG && de->d_type != DT_DIR && de->d_type != DT_LNK &&
                   de->d_type != DT_UNKNOWN) {
            continue; /* a FIFO, socket or device is never listed */
        } else if (stat_entry(rootfd, dirfd, rel, name, &st, &link, NULL, NULL, 0) < 0) {
            continue;
        }
        if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
            continue;
        if (n == LISTING_MAX_ENTRIES) {
            rc = -ENOBUFS;
            break;
        }
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 64;
            struct listing_entry *nv = realloc(v, ncap * sizeof *nv);
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
        v[n].size = (uint64_t)st.st_size;
        v[n].mtime = (int64_t)st.st_mtime;
        v[n].link = link;
        n++;
    }
    closedir(d);
    if (rc < 0) {
        listing_free(v, n);
        return rc;
    }
    *out = v;
    *count = n;
    return 0;
}

int listing_read(int rootfd, int dirfd, const char *rel, bool hidden, struct listing_entry **out,
                 size_t *count)
{
    return read_entries(rootfd, dirfd, rel, hidden, false, out, count);
}

/* The query that keeps order o on links to other directories: empty for
 * the default (name, ascending). */
static const char *order_query(struct listing_order o)
{
    static const char *const q[3][2] = {
        [LISTING_BY_NAME] = {"", "?sort=name&amp;order=desc"},
        [LISTING_BY_SIZE] = {"?sort=size&amp;order=asc", "?sort=size&amp;order=desc"},
        [LISTING_BY_DATE] = {"?sort=date&amp;order=asc", "?sort=date&amp;order=desc"},
    };
    return q[o.key][o.desc ? 1 : 0];
}

static int put_row(struct buf *b, const struct listing_entry *e, const struct listing_page *p)
{
    char size[32], when[32], iso[32];
    struct tm tm;
    time_t t = (time_t)e->mtime;
    size_t len = strlen(e->name);
    int rc;

    if (e->dir)
        snprintf(size, sizeof size, "-");
    else
        fmt_size(e->size, size, sizeof size);
    if (gmtime_r(&t, &tm) == NULL)
        memset(&tm, 0, sizeof tm);
    strftime(when, sizeof when, "%Y-%m-%d %H:%M", &tm);
    strftime(iso, sizeof iso, "%Y-%m-%dT%H:%M:%SZ", &tm);
    rc = buf_puts(b, "<tr><td><a href=\"./");
    if (rc == 0)
        rc = url_encode(b, e->name, len, 0);
    if (rc == 0)
        rc = buf_puts(b, e->dir ? "/" : "");
    if (rc == 0 && e->dir)
        rc = buf_puts(b, order_query(p->order));
    if (rc == 0)
        rc = buf_puts(b, "\">");
    if (rc == 0)
        rc = html_escape(b, e->name, len);
    if (rc == 0)
        rc = buf_printf(b,
                        "%s</a></td><td class=\"s\" data-bytes=\"%llu\">%s</td>"
                        "<td class=\"d\"><time datetime=\"%s\">%s</time></td>",
                        e->dir ? "/" : "", (unsigned long long)e->size, size, iso, when);
    if (rc == 0 && p->writable)
        rc = buf_puts(b, "<td><button class=\"del\" type=\"button\">delete</button></td>");
    if (rc == 0)
        rc = buf_puts(b, "</tr>\n");
    return rc;
}

/* One entry of the JSON listing; first: no comma before it. */
static int put_json_row(struct buf *b, const struct listing_entry *e, bool first)
{
    size_t len = strlen(e->name);
    int rc = buf_puts(b, first ? "{\"name\":" : ",\n{\"name\":");

    if (rc == 0)
        rc = json_put_string(b, e->name, len);
    if (rc == 0)
        rc = buf_puts(b, ",\"href\":\"");
    if (rc == 0)
        rc = url_encode(b, e->name, len, 0);
    if (rc == 0)
        rc = buf_printf(b, "%s\",\"type\":\"%s\",\"size\":%llu,\"mtime\":%lld}", e->dir ? "/" : "",
                        e->dir ? "dir" : "file", e->dir ? 0ULL : (unsigned long long)e->size,
                        (long long)e->mtime);
    return rc;
}

/* Any row: the page's or the JSON listing's. */
static int put_any_row(struct buf *b, const struct listing_entry *e, const struct listing_page *p,
                       bool first)
{
    return p->json ? put_json_row(b, e, first) : put_row(b, e, p);
}

/* The JSON listing's head: the folder's path. */
static int put_json_top(struct buf *out, const struct listing_page *p, bool root)
{
    struct buf path;
    int rc;

    buf_init(&path, PATH_MAX_LEN + 16);
    rc = buf_puts(&path, "/");
    if (rc == 0 && !root)
        rc = buf_printf(&path, "%s/", p->rel);
    if (rc == 0)
        rc = buf_puts(out, "{\"path\":");
    if (rc == 0)
        rc = json_put_string(out, buf_rptr(&path), buf_len(&path));
    if (rc == 0)
        rc = buf_puts(out, ",\"entries\":[\n");
    buf_free(&path);
    return rc;
}

/* One column head: a link that sorts by key, ascending unless the page is
 * already sorted so, and an arrow on the current key. */
static int put_sort_head(struct buf *b, const struct listing_page *p, enum listing_key key,
                         const char *label, const char *cls)
{
    static const char *const names[] = {"name", "size", "date"};
    bool current = p->order.key == key;
    bool desc = current && !p->order.desc;

    return buf_printf(b, "<th%s><a class=\"sort\" href=\"?sort=%s&amp;order=%s\">%s%s</a></th>",
                      cls, names[key], desc ? "desc" : "asc", label,
                      !current        ? ""
                      : p->order.desc ? " &#9660;"
                                      : " &#9650;");
}

/* The parts of a page, in order: listing_format writes them all at once,
 * listing_fill a window at a time. A part is small (at most a few times
 * PATH_MAX_LEN), so each is made whole; a breadcrumb is one part, so a
 * deep path does not make one big one. */
enum part {
    PART_TOP,   /* the head, the style, the opening of the breadcrumbs */
    PART_CRUMB, /* one breadcrumb: pos is its segment's offset in rel */
    PART_MID,   /* the title, the controls, the table head, the ".." row */
    PART_ROW,   /* one entry: pos is its index */
    PART_TAIL,  /* the end of the table, the script */
    PART_END,
};

/* The part after (*part, *pos) for a page of nrows rows. */
static void next_part(const struct listing_page *p, int *part, size_t *pos, size_t nrows)
{
    size_t i = *pos;

    switch (*part) {
    case PART_TOP:
        if (p->json) { /* no breadcrumbs, no controls */
            *part = nrows > 0 ? PART_ROW : PART_TAIL;
            *pos = 0;
            return;
        }
        *part = strcmp(p->rel, ".") == 0 || p->rel[0] == '\0' ? PART_MID : PART_CRUMB;
        *pos = 0;
        return;
    case PART_CRUMB:
        while (p->rel[i] != '\0' && p->rel[i] != '/')
            i++;
        if (p->rel[i] == '/' && p->rel[i + 1] != '\0') {
            *pos = i + 1;
            return;
        }
        *part = PART_MID;
        return;
    case PART_MID:
        *part = nrows > 0 ? PART_ROW : PART_TAIL;
        *pos = 0;
        return;
    case PART_ROW:
        if (++*pos == nrows)
            *part = PART_TAIL;
        return;
    default: /* PART_TAIL, PART_END */
        *part = PART_END;
        return;
    }
}

/* One breadcrumb: a link to rel[0..end of the segment at start). */
static int put_crumb(struct buf *b, const char *rel, size_t start)
{
    size_t len = strlen(rel), i = start;

    while (i < len && rel[i] != '/')
        i++;
    int rc = buf_puts(b, " / <a class=\"crumb\" href=\"/");
    if (rc == 0)
        rc = url_encode(b, rel, i, 1);
    if (rc == 0)
        rc = buf_puts(b, "/\">");
    if (rc == 0)
        rc = html_escape(b, rel + start, i - start);
    if (rc == 0)
        rc = buf_puts(b, "</a>");
    return rc;
}

static int put_top(struct buf *out, const struct listing_page *p, bool root, const char *shown)
{
    int rc =
        buf_puts(out, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                      "<title>Index of /");
    if (rc == 0)
        rc = html_escape(out, shown, strlen(shown));
    if (rc == 0)
        rc = buf_printf(out, "%s</title>\n<style>%s</style></head>\n<body%s", root ? "" : "/",
                        page_css, p->writable ? " data-writable=\"1\"" : "");
    if (rc == 0 && p->writable)
        rc = buf_printf(out, " data-upload-part=\"%llu\"", (unsigned long long)p->upload_part);
    if (rc == 0)
        rc = buf_puts(out, ">\n");
    if (rc == 0)
        rc = buf_puts(out, "<nav><a class=\"crumb\" href=\"/\">root</a>");
    return rc;
}

static int put_mid(struct buf *out, const struct listing_page *p, bool root, const char *shown)
{
    int rc = buf_puts(out, " /</nav>\n<h1>Index of /");
    if (rc == 0)
        rc = html_escape(out, shown, strlen(shown));
    if (rc == 0)
        rc = buf_printf(out,
                        "%s</h1>\n<p><a class=\"tar\" href=\"?tar\" download>"
                        "Download this folder (tar)</a> <a class=\"zip\" href=\"?zip\" download>(zip)</a> <span id=\"msg\"></span></p>\n",
                        root ? "" : "/");
    if (rc == 0 && p->writable)
        rc = buf_puts(out,
                      "<div class=\"drop\" id=\"drop\"><p>Drop files or folders here, or "
                      "<label>choose files <input id=\"files\" type=\"file\" multiple></label> "
                      "<label>or a folder <input id=\"folder\" type=\"file\" webkitdirectory "
                      "multiple></label></p>\n<p><input id=\"dirname\" type=\"text\" "
                      "placeholder=\"new folder\" aria-label=\"new folder name\"> "
                      "<button id=\"mkdir\" type=\"button\">Create folder</button></p></div>\n");
    if (rc == 0)
        rc = buf_puts(out, "<table>\n<thead><tr>");
    if (rc == 0)
        rc = put_sort_head(out, p, LISTING_BY_NAME, "Name", "");
    if (rc == 0)
        rc = put_sort_head(out, p, LISTING_BY_SIZE, "Size", " class=\"s\"");
    if (rc == 0)
        rc = put_sort_head(out, p, LISTING_BY_DATE, "Modified (UTC)", " class=\"d\"");
    if (rc == 0)
        rc = buf_puts(out, p->writable ? "<th></th></tr></thead>\n<tbody>\n"
                                       : "</tr></thead>\n<tbody>\n");
    if (rc == 0 && !root)
        rc = buf_printf(out,
                        "<tr><td><a href=\"../%s\">../</a></td><td class=\"s\">-</td>"
                        "<td class=\"d\"></td>%s</tr>\n",
                        order_query(p->order), p->writable ? "<td></td>" : "");
    return rc;
}

/* Every part but a row. */
static int put_part(struct buf *out, const struct listing_page *p, int part, size_t pos)
{
    bool root = strcmp(p->rel, ".") == 0;
    const char *shown = root ? "" : p->rel;

    if (p->json)
        return part == PART_TOP    ? put_json_top(out, p, root)
               : part == PART_TAIL ? buf_puts(out, "\n]}\n")
                                   : 0;
    switch ((enum part)part) {
    case PART_TOP:
        return put_top(out, p, root, shown);
    case PART_CRUMB:
        return put_crumb(out, p->rel, pos);
    case PART_MID:
        return put_mid(out, p, root, shown);
    case PART_TAIL:
        return buf_printf(out,
                          "</tbody>\n</table>\n<script>%s</script>\n<script>%s</script>\n"
                          "</body></html>\n",
                          page_upload_js, page_js);
    case PART_ROW:
    case PART_END:
        break;
    }
    return 0;
}

int listing_format(const struct listing_page *p, const struct listing_entry *v, size_t n,
                   struct buf *out)
{
    int part = PART_TOP, rc = 0;
    size_t pos = 0;

    while (rc == 0 && part != PART_END) {
        rc =
            part == PART_ROW ? put_any_row(out, &v[pos], p, pos == 0) : put_part(out, p, part, pos);
        next_part(p, &part, &pos, n);
    }
    return rc;
}

/* ---- snapshots ---------------------------------------------------------- */

struct snap_entry {
    uint32_t name; /* offset of the NUL-terminated name in the snapshot's names */
    bool dir, link;
    uint64_t size;
    int64_t mtime;
};

struct listing_snap {
    struct listing_snap *next, **pprev; /* on cache->live; pprev NULL when on none */
    size_t refs;
    /* The directory version and order this is: the cache's key. */
    dev_t dev;
    ino_t ino;
    struct timespec mtime, ctime;
    struct listing_order order;
    bool hidden;
    size_t n;
    char *names; /* all names, one after another, in the same allocation */
    struct snap_entry v[];
};

int listing_snap_make(struct listing_entry *v, size_t n, struct listing_order o,
                      struct listing_snap **out)
{
    size_t bytes = 0;

    if (n > LISTING_MAX_ENTRIES)
        return -ENOBUFS;
    for (size_t i = 0; i < n; i++)
        bytes += strlen(v[i].name) + 1; /* names are at most NAME_MAX: no overflow */
    if (bytes > UINT32_MAX)
        return -ENOBUFS;
    listing_sort(v, n, o);
    struct listing_snap *s = malloc(sizeof *s + n * sizeof s->v[0] + bytes);
    if (s == NULL)
        return -ENOMEM;
    memset(s, 0, sizeof *s);
    s->refs = 1;
    s->order = o;
    s->n = n;
    s->names = (char *)&s->v[n];
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(v[i].name) + 1;
        memcpy(s->names + off, v[i].name, len);
        s->v[i] = (struct snap_entry){.name = (uint32_t)off,
                                      .dir = v[i].dir,
                                      .link = v[i].link,
                                      .size = v[i].size,
                                      .mtime = v[i].mtime};
        off += len;
    }
    *out = s;
    return 0;
}

void listing_snap_put(struct listing_snap **sp)
{
    struct listing_snap *s = *sp;

    if (s == NULL)
        return;
    *sp = NULL;
    if (--s->refs > 0)
        return;
    if (s->pprev != NULL) {
        *s->pprev = s->next;
        if (s->next != NULL)
            s->next->pprev = s->pprev;
    }
    free(s);
}

static bool same_time(struct timespec a, struct timespec b)
{
    return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

/* Whether s was read from the directory st describes, in order o. */
static bool snap_is(const struct listing_snap *s, const struct stat *st, struct listing_order o,
                    bool hidden)
{
    return s->dev == st->st_dev && s->ino == st->st_ino && same_time(s->mtime, st->st_mtim) &&
           same_time(s->ctime, st->st_ctim) && s->order.key == o.key && s->order.desc == o.desc &&
           s->hidden == hidden;
}

/* A directory changed this recently may change again without its times
 * moving (they tick coarser than changes come), so a snapshot read then
 * is not shared. */
#define LISTING_RACY_NS 100000000LL

int listing_snap_get(struct listing_cache *cache, int rootfd, int dirfd, const char *rel,
                     bool hidden, struct listing_order o, struct listing_snap **out)
{
    struct stat before, after;
    struct timespec now;

    if (fstat(dirfd, &before) < 0)
        return -errno;
    for (struct listing_snap *s = cache ? cache->live : NULL; s != NULL; s = s->next) {
        if (snap_is(s, &before, o, hidden)) {
            s->refs++;
            *out = s;
            return 0;
        }
    }
    clock_gettime(CLOCK_REALTIME, &now);
    struct listing_entry *v = NULL;
    size_t n = 0;
    /* In name order nothing but the names and kinds decide the order, and
     * every cursor on a snapshot stats each entry afresh as it writes it:
     * a second fstatat per entry here would only be thrown away. */
    int rc = read_entries(rootfd, dirfd, rel, hidden, o.key == LISTING_BY_NAME, &v, &n);
    if (rc < 0)
        return rc;
    struct listing_snap *s = NULL;
    rc = listing_snap_make(v, n, o, &s);
    listing_free(v, n);
    if (rc < 0)
        return rc;
    s->dev = before.st_dev;
    s->ino = before.st_ino;
    s->mtime = before.st_mtim;
    s->ctime = before.st_ctim;
    s->hidden = hidden;
    int64_t age = ((int64_t)now.tv_sec - (int64_t)before.st_ctim.tv_sec) * 1000000000LL +
                  (now.tv_nsec - before.st_ctim.tv_nsec);
    bool steady = fstat(dirfd, &after) == 0 && snap_is(s, &after, o, hidden);
    if (cache != NULL && steady && age > LISTING_RACY_NS) {
        s->next = cache->live;
        if (s->next != NULL)
            s->next->pprev = &s->next;
        s->pprev = &cache->live;
        cache->live = s;
    }
    *out = s;
    return 0;
}

/* ---- cursors ------------------------------------------------------------ */

#define LISTING_ROWS_PER_FILL 4096
#define LISTING_PART_MAX (256u << 10) /* more than any part can be */

int listing_cursor_init(struct listing_cursor *cur, const struct listing_page *p,
                        struct listing_snap *snap, int rootfd, int dirfd)
{
    char *realdir = NULL;

    /* keep decides on where each entry really is: the folder's real path
     * is found once, a link's from its own descriptor (stat_entry). */
    if (p->keep != NULL && dirfd >= 0) {
        char dir[PATH_MAX_LEN + 16];
        int rc = fsx_real_rel(rootfd, dirfd, dir, sizeof dir);
        if (rc < 0)
            return rc;
        realdir = strdup(dir);
        if (realdir == NULL)
            return -ENOMEM;
    }
    snap->refs++;
    *cur = (struct listing_cursor){.page = *p,
                                   .snap = snap,
                                   .rootfd = rootfd,
                                   .dirfd = dirfd,
                                   .realdir = realdir,
                                   .phase = PART_TOP};
    return 0;
}

void listing_cursor_free(struct listing_cursor *cur)
{
    free(cur->realdir);
    cur->realdir = NULL;
    listing_snap_put(&cur->snap);
    if (cur->part != NULL) {
        buf_free(cur->part);
        free(cur->part);
        cur->part = NULL;
    }
}

bool listing_done(const struct listing_cursor *cur)
{
    return cur->phase == PART_END && cur->part == NULL;
}

/* Row i of the cursor's snapshot as it is to be shown, into e. Returns 0,
 * or 1 when the row is left out: keep refuses it, or (when the cursor has
 * the directory) it is gone or is no longer a file or directory. */
static int row_entry_st(const struct listing_cursor *cur, size_t i, struct listing_entry *e,
                        struct stat *stout)
{
    const struct listing_page *p = &cur->page;
    const struct snap_entry *se = &cur->snap->v[i];
    char *name = cur->snap->names + se->name;
    char real[PATH_MAX_LEN + 16];
    bool keep = p->keep != NULL;

    *e = (struct listing_entry){
        .name = name, .dir = se->dir, .size = se->size, .mtime = se->mtime, .link = se->link};
    if (cur->dirfd >= 0) {
        struct stat st;
        if (stat_entry(cur->rootfd, cur->dirfd, p->rel, name, &st, &e->link,
                       keep ? cur->realdir : NULL, keep ? real : NULL, sizeof real) < 0 ||
            (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode)))
            return 1;
        e->dir = S_ISDIR(st.st_mode);
        e->size = (uint64_t)st.st_size;
        e->mtime = (int64_t)st.st_mtime;
        if (stout != NULL)
            *stout = st;
    }
    if (keep) {
        char listed[PATH_MAX_LEN + 256 + 2];
        bool root = strcmp(p->rel, ".") == 0;
        int n = snprintf(listed, sizeof listed, "%s%s%s", root ? "" : p->rel, root ? "" : "/", name);
        /* Without a directory to look at (a page made from entries alone)
         * the listed path stands for the real one. */
        if (n < 0 || (size_t)n >= sizeof listed ||
            !p->keep(p->keep_arg, listed, cur->dirfd >= 0 ? real : listed))
            return 1;
    }
    return 0;
}

static int row_entry(const struct listing_cursor *cur, size_t i, struct listing_entry *e)
{
    return row_entry_st(cur, i, e, NULL);
}

size_t listing_cursor_count(const struct listing_cursor *cur)
{
    return cur->snap->n;
}

int listing_cursor_row(const struct listing_cursor *cur, size_t i, const char **name,
                       struct stat *st, bool *link)
{
    struct listing_entry e;

    if (cur->dirfd < 0 || i >= cur->snap->n)
        return 1;
    int rc = row_entry_st(cur, i, &e, st);
    *name = e.name;
    *link = e.link;
    return rc;
}

/* Appends the cursor's current part to out. Returns 0, 1 for a row left
 * out, or -errno (-ENOBUFS: it does not fit; out may hold part of it). */
static int put_current(const struct listing_cursor *cur, struct buf *out)
{
    struct listing_entry e;

    if (cur->phase != PART_ROW)
        return put_part(out, &cur->page, cur->phase, cur->pos);
    if (row_entry(cur, cur->pos, &e) != 0)
        return 1;
    return put_any_row(out, &e, &cur->page, cur->shown == 0);
}

/* Gives out what fits of the part being given out; frees it once empty.
 * Returns 0 or -errno. */
static int give_part(struct listing_cursor *cur, struct buf *out)
{
    size_t room = out->max - buf_len(out), k = buf_len(cur->part);

    if (k > room)
        k = room;
    int rc = buf_append(out, buf_rptr(cur->part), k);
    if (rc < 0)
        return rc;
    buf_consume(cur->part, k);
    if (buf_len(cur->part) == 0) {
        buf_free(cur->part);
        free(cur->part);
        cur->part = NULL;
    }
    return 0;
}

int listing_fill(struct listing_cursor *cur, struct buf *out)
{
    size_t start = buf_len(out), rows = 0;

    while (buf_len(out) < out->max && (cur->part != NULL || cur->phase != PART_END)) {
        if (cur->part != NULL) {
            int rc = give_part(cur, out);
            if (rc < 0)
                return rc;
            continue;
        }
        if (cur->phase == PART_ROW && rows++ == LISTING_ROWS_PER_FILL)
            break;
        size_t mark = buf_len(out);
        int rc = put_current(cur, out);
        if (rc == -ENOBUFS) {
            out->wpos = out->rpos + mark; /* the part goes whole into a window, or aside */
            if (buf_len(out) > start)
                return 0;
            /* Bigger than the whole window: made aside and given out
             * from there, so its bytes stay the same however many
             * windows it takes (a row is not looked at again). */
            cur->part = malloc(sizeof *cur->part);
            if (cur->part == NULL)
                return -ENOMEM;
            buf_init(cur->part, LISTING_PART_MAX);
            rc = put_current(cur, cur->part);
            if (rc < 0)
                return rc;
        } else if (rc < 0) {
            return rc;
        }
        if (rc == 0 && cur->phase == PART_ROW)
            cur->shown++;
        next_part(&cur->page, &cur->phase, &cur->pos, cur->snap->n);
    }
    return 0;
}

int listing_build(int rootfd, int dirfd, const struct listing_page *p, bool hidden, struct buf *out)
{
    struct listing_snap *s = NULL;
    struct listing_cursor cur;
    int rc = listing_snap_get(NULL, rootfd, dirfd, p->rel, hidden, p->order, &s);

    if (rc < 0)
        return rc;
    rc = listing_cursor_init(&cur, p, s, rootfd, dirfd);
    listing_snap_put(&s);
    if (rc < 0)
        return rc;
    while (rc == 0 && !listing_done(&cur) && buf_len(out) < out->max)
        rc = listing_fill(&cur, out);
    if (rc == 0 && !listing_done(&cur))
        rc = -ENOBUFS;
    listing_cursor_free(&cur);
    return rc;
}

/* Writes 'sha256-BASE64' for s into out (at least 64 bytes). */
static int csp_hash(const char *s, char *out)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;

    if (EVP_Digest(s, strlen(s), md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32)
        return -EIO;
    memcpy(out, "'sha256-", 8);
    int n = EVP_EncodeBlock((unsigned char *)out + 8, md, (int)mdlen);
    memcpy(out + 8 + n, "'", 2);
    return 0;
}

int listing_csp(char *out, size_t outsz)
{
    char upload[64], script[64], style[64];

    if (csp_hash(page_upload_js, upload) < 0 || csp_hash(page_js, script) < 0 ||
        csp_hash(page_css, style) < 0)
        return -EIO;
    int n = snprintf(out, outsz,
                     "default-src 'none'; script-src %s %s; style-src %s; connect-src 'self'; "
                     "img-src 'self' data:; base-uri 'none'; form-action 'none'; "
                     "frame-ancestors 'none'",
                     upload, script, style);
    return n < 0 || (size_t)n >= outsz ? -ENOBUFS : 0;
}
