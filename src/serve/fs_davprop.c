/* PROPFIND and PROPPATCH (RFC 4918 §9.1, §9.2), and the dead-property store.
 *
 * PROPFIND reads its body (fs_xbody, proto/davxml), opens the target
 * beneath the root and asks the rights gate on it, then answers 207 with a
 * multistatus made while it is sent: a body source (body_src.dav) refills
 * one page, as the listing does, from the worker's shared directory
 * snapshots and listing cursors (listing_cursor_row: each entry as it is
 * now, kept only when listing_page.keep lets the user read its real path;
 * hidden and reserved names never appear, as in listings). Depth 1 walks
 * the folder; Depth infinity (the default without a Depth header) walks
 * the tree depth first, a stack of cursors, never into a folder already
 * on the stack (a link loop), at most DAV_LEVELS deep, DAV_MAX_ENTRIES
 * entries and DAV_MAX_MS long (then the multistatus ends with a
 * responsedescription saying so). --dav-depth-infinity off answers it 403
 * with propfind-finite-depth.
 *
 * PROPPATCH opens the target, asks the rights gate for write on it, and
 * applies every set and remove in order or none: a protected (live)
 * property fails the request (403, the rest 424) before anything changes;
 * a store failure rolls back what this request did.
 *
 * Dead properties (proto/davprop formats) live in user.dav:* extended
 * attributes of the file; where the file system refuses user attributes
 * (ENOTSUP: tmpfs without them, some network file systems), in a sidecar
 * file ROOT/.ferry-up-davprops/DEV-INODE, which DELETE removes with its
 * file (fs_davprop_forget). A walk reads an entry's attribute names with
 * listxattrat (Linux 6.13; no open of the entry) and opens the entry only
 * when one is a dead property (or the kernel lacks it); it looks for the
 * sidecar folder once a page, not once an entry. An entry found without
 * dead properties is remembered by the worker (w->davbare, core/ctimeset)
 * as (device, inode, ctime): a later walk asks its attributes again only
 * once its ctime moved, which any change of an attribute does. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdatomic.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "core/fsx.h"
#include "proto/davprop.h"
#include "proto/davxml.h"
#include "proto/path.h"
#include "serve/fs.h"
#include "serve/fs_auth.h"
#include "serve/listing.h"

#define DAV_PAGE (32u << 10)    /* page bytes made at a time */
#define DAV_CHUNK_HEAD 10       /* "%08x\r\n" */
#define DAV_PART_MAX (1u << 20) /* one response element at most */
#define DAV_ROWS_PER_FILL 512   /* entries looked at per fill */
#define DAV_LEVELS 64           /* Depth infinity: folders deep */
#define DAV_MAX_ENTRIES 100000  /* Depth infinity: entries in one answer */
#define DAV_MAX_MS 60000        /* Depth infinity: how long one answer may walk */
#define DAV_DEPTH_INF 2
#define DAV_DEAD_MAX 256 /* dead properties of one object */
#define DAV_BARE_SLOTS 32768 /* entries remembered without dead properties, per worker (1 MiB: 32 bytes each) */
#define DAV_DEAD_BYTES (256u << 10)
#define DAV_SIDECAR_DIR PATH_RESERVED_PREFIX "-davprops"
/* listxattrat: one number on every architecture since Linux 6.13 */
#ifdef SYS_listxattrat
#define DAV_NR_LISTXATTRAT SYS_listxattrat
#else
#define DAV_NR_LISTXATTRAT 465
#endif

/* ---- the dead-property store ---------------------------------------------- */

struct dead {
    size_t key, lang, value; /* offsets in deadset.mem: "{NS}LOCAL" split, lang, value */
    size_t ns, name;
    size_t value_len;
    bool gone; /* removed by this request */
};

struct deadset {
    size_t n;
    struct dead v[DAV_DEAD_MAX];
    struct buf mem;
    bool sidecar; /* kept in the sidecar (the file system refuses user attributes) */
};

static const char *ds_str(const struct deadset *d, size_t off)
{
    return d->mem.data + off;
}

/* Appends s[0..n) and a NUL to d->mem; its offset, or -errno. */
static long ds_put(struct deadset *d, const char *s, size_t n)
{
    size_t at = buf_len(&d->mem);

    if (buf_append(&d->mem, s, n) < 0 || buf_append(&d->mem, "", 1) < 0)
        return -ENOBUFS;
    return (long)at;
}

/* Adds a property: key "{NS}LOCAL", its lang and value. */
static int ds_add(struct deadset *d, const char *key, const char *lang, const char *value,
                  size_t vlen)
{
    if (d->n == DAV_DEAD_MAX)
        return -ENOBUFS;
    long k = ds_put(d, key, strlen(key));
    long k2 = k < 0 ? k : ds_put(d, key, strlen(key)); /* the one split in place */
    long l = k2 < 0 ? k2 : ds_put(d, lang, strlen(lang));
    long v = l < 0 ? l : ds_put(d, value, vlen);
    if (v < 0)
        return (int)v;
    const char *ns, *name;
    if (davprop_key_split(d->mem.data + k2, &ns, &name) < 0)
        return -EINVAL;
    d->v[d->n++] = (struct dead){.key = (size_t)k,
                                 .lang = (size_t)l,
                                 .value = (size_t)v,
                                 .value_len = vlen,
                                 .ns = (size_t)(ns - d->mem.data),
                                 .name = (size_t)(name - d->mem.data)};
    return 0;
}

static void ds_init(struct deadset *d)
{
    d->n = 0;
    d->sidecar = false;
    buf_init(&d->mem, DAV_DEAD_BYTES);
}

static void ds_free(struct deadset *d)
{
    buf_free(&d->mem);
}

/* The sidecar file's name for the object st describes. */
static void sidecar_name(const struct stat *st, char *out, size_t n)
{
    snprintf(out, n, "%" PRIx64 "-%" PRIx64, (uint64_t)st->st_dev, (uint64_t)st->st_ino);
}

/* The sidecar directory beneath the root; -errno (-ENOENT when none yet). */
static int sidecar_dir(const struct fs_server *s, bool make)
{
    if (make && mkdirat(s->rootfd, DAV_SIDECAR_DIR, 0700) < 0 && errno != EEXIST)
        return -errno;
    int fd = openat(s->rootfd, DAV_SIDECAR_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

/* Loads st's sidecar from the sidecar folder open at dfd. */
static int sidecar_load_in(int dfd, const struct stat *st, struct deadset *d)
{
    char name[64];

    sidecar_name(st, name, sizeof name);
    int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : -errno;
    d->sidecar = true; /* this object's properties are there */
    struct buf b;
    buf_init(&b, DAV_DEAD_BYTES);
    int rc = 0;
    for (;;) {
        char *p = buf_reserve(&b, 16384);
        if (p == NULL) {
            rc = -ENOBUFS;
            break;
        }
        ssize_t n = read(fd, p, buf_room(&b));
        if (n < 0) {
            rc = -errno;
            break;
        }
        if (n == 0)
            break;
        buf_commit(&b, (size_t)n);
    }
    close(fd);
    size_t off = 0;
    struct davprop_rec r;
    int got;
    while (rc == 0 && (got = davprop_rec_next(b.data, buf_len(&b), &off, &r)) == 1)
        rc = ds_add(d, r.key, r.lang, r.value, r.value_len);
    buf_free(&b);
    return rc;
}

static int sidecar_load(const struct fs_server *s, const struct stat *st, struct deadset *d)
{
    int dfd = sidecar_dir(s, false);

    if (dfd == -ENOENT)
        return 0;
    if (dfd < 0)
        return dfd;
    int rc = sidecar_load_in(dfd, st, d);
    close(dfd);
    return rc;
}

/* The sidecar of st, through *sdir when given: the sidecar folder as a
 * walk holds it (an fd, -ENOENT for none, -1 not looked at yet: then it is
 * opened once and kept there). */
static int sidecar_load_via(const struct fs_server *s, int *sdir, const struct stat *st,
                            struct deadset *d)
{
    if (sdir == NULL)
        return sidecar_load(s, st, d);
    if (*sdir == -1)
        *sdir = sidecar_dir(s, false);
    if (*sdir == -ENOENT)
        return 0;
    return *sdir < 0 ? *sdir : sidecar_load_in(*sdir, st, d);
}

/* Loads the dead properties of the object open at fd (st its stat); sdir
 * as sidecar_load_via takes it, or NULL. */
static int dead_load(const struct fs_server *s, int fd, const struct stat *st, struct deadset *d,
                     int *sdir)
{
    char list[16384], val[65536 + 256];
    ssize_t n = flistxattr(fd, list, sizeof list);

    if (n < 0 && (errno == ENOTSUP || errno == EOPNOTSUPP)) {
        d->sidecar = true;
        return sidecar_load_via(s, sdir, st, d);
    }
    if (n < 0)
        return errno == ERANGE ? -ENOBUFS : -errno;
    size_t pl = sizeof DAVPROP_XATTR_PREFIX - 1, found = 0;
    for (size_t i = 0; i < (size_t)n;) {
        const char *k = list + i;
        i += strlen(k) + 1;
        if (strncmp(k, DAVPROP_XATTR_PREFIX, pl) != 0)
            continue;
        ssize_t vn = fgetxattr(fd, k, val, sizeof val - 1);
        if (vn < 0)
            continue; /* removed meanwhile */
        const char *nul = memchr(val, '\0', (size_t)vn);
        if (nul == NULL)
            continue; /* not ours */
        val[vn] = '\0';
        int rc = ds_add(d, k + pl, val, nul + 1, (size_t)vn - (size_t)(nul + 1 - val));
        if (rc == -ENOBUFS)
            return rc;
        found++;
    }
    /* Where attributes are refused, listing them may still work (and say
     * none): then the sidecar holds them, if anywhere. */
    return found > 0 ? 0 : sidecar_load_via(s, sdir, st, d);
}

/* The index of ns:name in d, or -1. */
static long ds_find(const struct deadset *d, const char *ns, const char *name)
{
    for (size_t i = 0; i < d->n; i++)
        if (!d->v[i].gone && strcmp(ds_str(d, d->v[i].ns), ns) == 0 &&
            strcmp(ds_str(d, d->v[i].name), name) == 0)
            return (long)i;
    return -1;
}

/* Writes d (what is not gone) as the sidecar of st, atomically. */
static int sidecar_save(const struct fs_server *s, const struct stat *st, const struct deadset *d)
{
    char name[64], tmp[96];
    int dfd = sidecar_dir(s, true);

    if (dfd < 0)
        return dfd;
    sidecar_name(st, name, sizeof name);
    snprintf(tmp, sizeof tmp, "%s.tmp%ld", name, (long)getpid());
    int fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    int rc = fd < 0 ? -errno : 0;
    size_t live = 0;
    for (size_t i = 0; rc == 0 && i < d->n; i++) {
        const struct dead *e = &d->v[i];
        if (e->gone)
            continue;
        live++;
        const char *k = ds_str(d, e->key), *l = ds_str(d, e->lang), *v = ds_str(d, e->value);
        rc = fsx_write_all(fd, k, strlen(k) + 1);
        if (rc == 0)
            rc = fsx_write_all(fd, l, strlen(l) + 1);
        if (rc == 0)
            rc = fsx_write_all(fd, v, e->value_len + 1);
    }
    if (fd >= 0 && rc == 0 && fsync(fd) < 0)
        rc = -errno;
    if (fd >= 0)
        close(fd);
    if (rc == 0 && live == 0) {
        unlinkat(dfd, tmp, 0);
        if (unlinkat(dfd, name, 0) < 0 && errno != ENOENT)
            rc = -errno;
    } else if (rc == 0 && renameat(dfd, tmp, dfd, name) < 0) {
        rc = -errno;
    }
    if (rc < 0)
        unlinkat(dfd, tmp, 0);
    close(dfd);
    return rc;
}

void fs_davprop_forget(const struct fs_server *s, const struct stat *st)
{
    char name[64];
    int dfd = sidecar_dir(s, false);

    if (dfd < 0)
        return;
    sidecar_name(st, name, sizeof name);
    unlinkat(dfd, name, 0);
    close(dfd);
}

int fs_davprop_carry(const struct fs_server *s, int dirfd, const char *name, int newfd,
                     struct stat *forget)
{
    struct stat old, now;
    int rc = 0;

    memset(forget, 0, sizeof *forget);
    int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        return 0; /* none there, a link, or one ferry may not read: nothing to carry */
    if (fstat(fd, &old) < 0 || !S_ISREG(old.st_mode) || fstat(newfd, &now) < 0)
        goto out;
    /* Where attributes are refused the sidecar keeps them by inode (and a
     * file system without them may still list none, as ramfs does): the
     * new one gets a copy of any record, the old one's goes once the
     * rename has replaced it. */
    rc = fs_davprop_copy(s, &old, &now);
    if (rc < 0)
        goto out;
    if (old.st_nlink == 1)
        *forget = old; /* (another name of it keeps its record) */
    /* Only the dead properties: the digest stamp and the rest are the
     * content's. */
    rc = fsx_copy_xattrs(fd, newfd, DAVPROP_XATTR_PREFIX, NULL);
out:
    close(fd);
    return rc;
}

int fs_davprop_copy(const struct fs_server *s, const struct stat *from, const struct stat *to)
{
    char sname[64], dname[64], tmp[128];
    int dfd = sidecar_dir(s, false);

    if (dfd == -ENOENT)
        return 0; /* no sidecar store at all: nothing to carry */
    if (dfd < 0)
        return dfd;
    sidecar_name(from, sname, sizeof sname);
    sidecar_name(to, dname, sizeof dname);
    int in = openat(dfd, sname, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (in < 0) {
        int rc = errno == ENOENT ? 0 : -errno;
        /* None to carry; a set left by a deleted object whose inode number
         * the copy now has is not the copy's. */
        if (rc == 0 && unlinkat(dfd, dname, 0) < 0 && errno != ENOENT)
            rc = -errno;
        close(dfd);
        return rc;
    }
    /* A name of this thread's own: COPY runs on job threads beside the
     * loops' own saves. */
    snprintf(tmp, sizeof tmp, "%s.copy%ld-%ld", dname, (long)getpid(), (long)gettid());
    int out = openat(dfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    int rc = out < 0 ? -errno : 0;
    uint64_t total = 0;
    char b[16384];
    while (rc == 0) {
        ssize_t n = read(in, b, sizeof b);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            rc = n < 0 ? -errno : 0;
            break;
        }
        total += (uint64_t)n;
        rc = total > DAV_DEAD_BYTES ? -EFBIG : fsx_write_all(out, b, (size_t)n);
    }
    close(in);
    if (out >= 0)
        close(out);
    if (rc == 0 && renameat(dfd, tmp, dfd, dname) < 0)
        rc = -errno;
    if (rc < 0 && out >= 0)
        unlinkat(dfd, tmp, 0);
    close(dfd);
    return rc;
}

/* ---- lockdiscovery ------------------------------------------------------- */

/* Until fs_davlock.c defines its own (the locks), no lock is active. */
__attribute__((weak)) int fs_davlock_discovery(struct conn *c, const char *rel, struct buf *out)
{
    (void)c;
    (void)rel;
    (void)out;
    return 0;
}

/* ---- a response element -------------------------------------------------- */

/* A property name as the request gave it. */
struct pname {
    const char *ns, *name;
};

struct fs_davprop {
    struct conn *c; /* outlives this: it is part of c's exchange */
    int depth;
    enum davxml_find find;
    size_t nnames;
    struct pname *names; /* with the strings after them, one allocation */
    bool chunked, ended, walked, self_done, truncated;
    int fd; /* the target */
    struct stat st;
    struct buf part;      /* the response being given out (empty: none); kept for the next */
    struct deadset *dead; /* an entry's dead properties; reused for each */
    int sdir;             /* the sidecar folder for this fill (sidecar_load_via) */
    size_t nframes;
    struct frame *frames[DAV_LEVELS];
    uint64_t entries;
    int64_t deadline; /* Depth infinity: CLOCK_MONOTONIC ms */
    struct timespec now; /* CLOCK_REALTIME at this fill's start, before its entries' stats */
    bool have_vfs;
    struct statvfs vfs;
    char rel[PATH_MAX_LEN + 16];
};

struct frame {
    int dirfd;
    dev_t dev;
    ino_t ino;
    struct listing_cursor cur;
    size_t i;
    char rel[PATH_MAX_LEN + 16];
};

/* What one response element is about. */
struct obj {
    const char *rel;  /* listed path beneath the root */
    const char *name; /* its last segment ("" for the root) */
    const struct stat *st;
    int fd;    /* open on it, or -1 */
    int dirfd; /* else its parent and entry name, to open it for dead properties */
    const char *entry;
    bool link;
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Appends live property p's value element of o (applies() said yes). */
static int put_live(struct fs_davprop *pf, struct buf *b, enum davprop_live p, const struct obj *o)
{
    const struct stat *st = o->st;
    bool dir = S_ISDIR(st->st_mode);
    const char *n = davprop_live_name(p);
    char tmp[64];
    struct tm tm;
    int rc;

    switch (p) {
    case DAVPROP_CREATIONDATE: {
        /* No birth time in stat: the earlier of the change and
         * modification times stands for it. */
        time_t t = st->st_ctime < st->st_mtime ? st->st_ctime : st->st_mtime;
        gmtime_r(&t, &tm);
        strftime(tmp, sizeof tmp, "%Y-%m-%dT%H:%M:%SZ", &tm);
        return buf_printf(b, "<D:%s>%s</D:%s>", n, tmp, n);
    }
    case DAVPROP_DISPLAYNAME:
        rc = buf_printf(b, "<D:%s>", n);
        if (rc == 0)
            rc = davxml_escape(b, o->name, strlen(o->name));
        return rc == 0 ? buf_printf(b, "</D:%s>", n) : rc;
    case DAVPROP_GETCONTENTLENGTH:
        return buf_printf(b, "<D:%s>%" PRIu64 "</D:%s>", n, (uint64_t)st->st_size, n);
    case DAVPROP_GETCONTENTTYPE: {
        const char *type = mime_lookup(&pf->c->w->srv->mime, o->name, strlen(o->name));
        return buf_printf(b, "<D:%s>%s</D:%s>", n, type, n);
    }
    case DAVPROP_GETETAG: {
        char etag[COND_ETAG_SIZE];
        fs_etag(st, etag);
        rc = buf_printf(b, "<D:%s>", n);
        if (rc == 0)
            rc = davxml_escape(b, etag, strlen(etag));
        return rc == 0 ? buf_printf(b, "</D:%s>", n) : rc;
    }
    case DAVPROP_GETLASTMODIFIED: {
        char date[HTTPDATE_LEN + 1];
        httpdate_format(st->st_mtime, date);
        return buf_printf(b, "<D:%s>%s</D:%s>", n, date, n);
    }
    case DAVPROP_RESOURCETYPE:
        return dir ? buf_printf(b, "<D:%s><D:collection/></D:%s>", n, n)
                   : buf_printf(b, "<D:%s/>", n);
    case DAVPROP_SUPPORTEDLOCK:
        return buf_printf(b,
                          "<D:%s><D:lockentry><D:lockscope><D:exclusive/></D:lockscope>"
                          "<D:locktype><D:write/></D:locktype></D:lockentry>"
                          "<D:lockentry><D:lockscope><D:shared/></D:lockscope>"
                          "<D:locktype><D:write/></D:locktype></D:lockentry></D:%s>",
                          n, n);
    case DAVPROP_LOCKDISCOVERY:
        rc = buf_printf(b, "<D:%s>", n);
        if (rc == 0)
            rc = fs_davlock_discovery(pf->c, o->rel, b);
        return rc == 0 ? buf_printf(b, "</D:%s>", n) : rc;
    case DAVPROP_QUOTA_AVAILABLE:
    case DAVPROP_QUOTA_USED: {
        if (!pf->have_vfs) {
            if (fstatvfs(pf->c->w->srv->rootfd, &pf->vfs) < 0)
                memset(&pf->vfs, 0, sizeof pf->vfs);
            pf->have_vfs = true;
        }
        uint64_t fr = pf->vfs.f_frsize;
        uint64_t v = p == DAVPROP_QUOTA_AVAILABLE
                         ? (uint64_t)pf->vfs.f_bavail * fr
                         : ((uint64_t)pf->vfs.f_blocks - (uint64_t)pf->vfs.f_bfree) * fr;
        return buf_printf(b, "<D:%s>%" PRIu64 "</D:%s>", n, v, n);
    }
    case DAVPROP_NLIVE:
        break;
    }
    return 0;
}

/* A dead property's element: its value, or empty for propname. */
static int put_dead(struct buf *b, const struct deadset *d, const struct dead *e, bool value)
{
    const char *ns = ds_str(d, e->ns), *name = ds_str(d, e->name), *lang = ds_str(d, e->lang);
    if (!value || (e->value_len == 0 && lang[0] == '\0'))
        return davxml_prop_open(b, ns, name, true);
    int rc = davxml_prop_open(b, ns, name, false);
    if (rc == 0 && lang[0] != '\0') {
        b->wpos--; /* the ">": xml:lang goes in the tag */
        rc = buf_puts(b, " xml:lang=\"");
        if (rc == 0)
            rc = davxml_escape(b, lang, strlen(lang));
        if (rc == 0)
            rc = buf_puts(b, "\">");
    }
    if (rc == 0)
        rc = buf_append(b, ds_str(d, e->value), e->value_len);
    return rc == 0 ? davxml_prop_close(b, ns, name) : rc;
}

/* listxattrat(2) (Linux 6.13): the names of the extended attributes of
 * dirfd's entry name itself (never a link's target), without opening it.
 * The count of bytes, or -errno (-ENOSYS: not here; then never again). */
static ssize_t list_at(int dirfd, const char *name, char *list, size_t size)
{
#if defined(__x86_64__) || defined(__aarch64__)
    static atomic_bool absent;

    if (atomic_load_explicit(&absent, memory_order_relaxed))
        return -ENOSYS;
    long n = syscall(DAV_NR_LISTXATTRAT, dirfd, name, AT_SYMLINK_NOFOLLOW, list, size);
    if (n >= 0)
        return (ssize_t)n;
    int err = errno;
    if (err == ENOSYS)
        atomic_store_explicit(&absent, true, memory_order_relaxed);
    return -err;
#else
    (void)dirfd;
    (void)name;
    (void)list;
    (void)size;
    return -ENOSYS;
#endif
}

/* Whether the attribute names list (n bytes) hold a dead property. */
static bool has_dead_names(const char *list, size_t n)
{
    size_t pl = sizeof DAVPROP_XATTR_PREFIX - 1;

    for (size_t i = 0; i < n;) {
        const char *k = list + i;
        size_t kl = strnlen(k, n - i);
        if (kl >= pl && strncmp(k, DAVPROP_XATTR_PREFIX, pl) == 0)
            return true;
        i += kl + 1;
    }
    return false;
}

/* Loads o's dead properties into d (none for a link entry: its target is
 * opened only through the root). An entry whose attributes name no dead
 * property (the most, in a listing) is not opened: its sidecar, if any,
 * is all it may have, as dead_load would find. */
static void load_dead(struct fs_davprop *pf, const struct obj *o, struct deadset *d)
{
    int fd = o->fd;

    if (fd < 0 && !o->link) {
        struct ctimeset *bare = &pf->c->w->davbare;
        if (ctimeset_has(bare, o->st)) {
            sidecar_load_via(pf->c->w->srv, &pf->sdir, o->st, d);
            return;
        }
        char list[16384];
        ssize_t n = list_at(o->dirfd, o->entry, list, sizeof list);
        if (n >= 0 && !has_dead_names(list, (size_t)n)) {
            /* Until its ctime moves (a set attribute moves it) the entry
             * has none: the next walk need not ask (core/ctimeset; a set
             * that could not be made takes nothing in). */
            ctimeset_add(bare, o->st, pf->now);
            sidecar_load_via(pf->c->w->srv, &pf->sdir, o->st, d);
            return;
        }
    }
    if (fd < 0 && !o->link)
        fd = openat(o->dirfd, o->entry, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        return;
    dead_load(pf->c->w->srv, fd, o->st, d, &pf->sdir);
    if (fd != o->fd)
        close(fd);
}

static int put_status_close(struct buf *b, int status)
{
    return buf_printf(b, "</D:prop><D:status>HTTP/1.1 %d %s</D:status></D:propstat>", status,
                      http_reason(status));
}

/* Appends the whole <D:response> for o to b. */
static int put_response(struct fs_davprop *pf, struct buf *b, const struct obj *o)
{
    bool dir = S_ISDIR(o->st->st_mode);
    struct deadset *d = pf->dead;

    d->n = 0;
    d->sidecar = false;
    d->mem.rpos = d->mem.wpos = 0;
    int rc = buf_puts(b, "<D:response><D:href>");
    if (rc == 0)
        rc = davxml_href(b, o->rel, dir);
    if (rc == 0)
        rc = buf_puts(b, "</D:href><D:propstat><D:prop>");
    bool want_dead = pf->find != DAVXML_PROP;
    for (size_t i = 0; !want_dead && i < pf->nnames; i++)
        want_dead = davprop_live_find(pf->names[i].ns, pf->names[i].name) < 0;
    if (want_dead)
        load_dead(pf, o, d);
    size_t missing = 0;
    if (pf->find != DAVXML_PROP) {
        bool value = pf->find == DAVXML_ALLPROP;
        for (int p = 0; rc == 0 && p < DAVPROP_NLIVE; p++) {
            if (!davprop_live_in_allprop((enum davprop_live)p) ||
                !davprop_live_applies((enum davprop_live)p, dir))
                continue;
            rc = value ? put_live(pf, b, (enum davprop_live)p, o)
                       : davxml_prop_open(b, "DAV:", davprop_live_name((enum davprop_live)p), true);
        }
        for (size_t i = 0; rc == 0 && i < d->n; i++)
            rc = put_dead(b, d, &d->v[i], value);
        /* allprop's include: what it names beyond allprop (the quotas) */
        for (size_t i = 0; rc == 0 && value && i < pf->nnames; i++) {
            int p = davprop_live_find(pf->names[i].ns, pf->names[i].name);
            if (p >= 0 && !davprop_live_in_allprop((enum davprop_live)p))
                rc = put_live(pf, b, (enum davprop_live)p, o);
        }
    } else {
        for (size_t i = 0; rc == 0 && i < pf->nnames; i++) {
            const struct pname *n = &pf->names[i];
            int p = davprop_live_find(n->ns, n->name);
            long k = p < 0 ? ds_find(d, n->ns, n->name) : -1;
            if (p >= 0 && davprop_live_applies((enum davprop_live)p, dir))
                rc = put_live(pf, b, (enum davprop_live)p, o);
            else if (k >= 0)
                rc = put_dead(b, d, &d->v[k], true);
            else
                missing++;
        }
    }
    if (rc == 0)
        rc = put_status_close(b, 200);
    if (rc == 0 && missing > 0) {
        rc = buf_puts(b, "<D:propstat><D:prop>");
        for (size_t i = 0; rc == 0 && i < pf->nnames; i++) {
            const struct pname *n = &pf->names[i];
            int p = davprop_live_find(n->ns, n->name);
            bool found = (p >= 0 && davprop_live_applies((enum davprop_live)p, dir)) ||
                         (p < 0 && ds_find(d, n->ns, n->name) >= 0);
            if (!found)
                rc = davxml_prop_open(b, n->ns, n->name, true);
        }
        if (rc == 0)
            rc = put_status_close(b, 404);
    }
    if (rc == 0)
        rc = buf_puts(b, "</D:response>");
    return rc;
}

/* ---- the walk ------------------------------------------------------------ */

/* listing_page.keep under --auth: the user may read the entry's real path. */
static bool may_read(void *arg, const char *listed, const char *real)
{
    const struct conn *c = arg;

    return fs_auth_may(c->w->srv, c->x->user, listed, real, AUTH_READ);
}

static void frame_free(struct frame *f)
{
    listing_cursor_free(&f->cur);
    close(f->dirfd);
    free(f);
}

/* Pushes the folder open at dirfd (taken over), listed as rel, onto the
 * walk. 0, or -errno (then dirfd is closed; the folder is left out). */
static int push(struct fs_davprop *pf, int dirfd, const char *rel, const struct stat *st)
{
    struct conn *c = pf->c;
    struct fs_server *s = c->w->srv;
    struct listing_snap *snap = NULL;

    for (size_t i = 0; i < pf->nframes; i++)
        if (pf->frames[i]->dev == st->st_dev && pf->frames[i]->ino == st->st_ino) {
            close(dirfd); /* a link back up: its contents are listed already */
            return -ELOOP;
        }
    struct frame *f = pf->nframes < DAV_LEVELS ? calloc(1, sizeof *f) : NULL;
    if (f == NULL || strlen(rel) >= sizeof f->rel) {
        free(f);
        close(dirfd);
        return -ENOBUFS;
    }
    snprintf(f->rel, sizeof f->rel, "%s", rel);
    struct listing_page lp = {.rel = f->rel};
    if (s->opt.auth != NULL) {
        lp.keep = may_read;
        lp.keep_arg = c;
    }
    int rc = listing_snap_get(&c->w->listings, s->rootfd, dirfd, f->rel, s->opt.hidden,
                              (struct listing_order){LISTING_BY_NAME, false}, &snap);
    if (rc == 0) {
        rc = listing_cursor_init(&f->cur, &lp, snap, s->rootfd, dirfd);
        listing_snap_put(&snap);
    }
    if (rc < 0) {
        close(dirfd);
        free(f);
        return rc;
    }
    f->dirfd = dirfd;
    f->dev = st->st_dev;
    f->ino = st->st_ino;
    pf->frames[pf->nframes++] = f;
    return 0;
}

/* The next response into part: 1 made, 0 nothing left, -EAGAIN this
 * turn's rows are used up, -errno. */
static int next_response(struct fs_davprop *pf, struct buf *part)
{
    if (!pf->self_done) {
        pf->self_done = true;
        const char *slash = strrchr(pf->rel, '/');
        const char *name = strcmp(pf->rel, ".") == 0 ? "" : slash ? slash + 1 : pf->rel;
        struct obj o = {.rel = pf->rel, .name = name, .st = &pf->st, .fd = pf->fd, .dirfd = -1};
        int rc = put_response(pf, part, &o);
        if (rc == 0 && pf->depth > 0 && S_ISDIR(pf->st.st_mode)) {
            int dfd = fcntl(pf->fd, F_DUPFD_CLOEXEC, 0);
            if (dfd >= 0)
                push(pf, dfd, pf->rel, &pf->st);
        }
        return rc < 0 ? rc : 1;
    }
    for (int looked = 0; pf->nframes > 0; looked++) {
        if (looked == DAV_ROWS_PER_FILL)
            return -EAGAIN;
        if (pf->depth == DAV_DEPTH_INF &&
            (pf->entries >= DAV_MAX_ENTRIES || now_ms() > pf->deadline)) {
            pf->truncated = true;
            while (pf->nframes > 0)
                frame_free(pf->frames[--pf->nframes]);
            return 0;
        }
        struct frame *f = pf->frames[pf->nframes - 1];
        if (f->i >= listing_cursor_count(&f->cur)) {
            frame_free(f);
            pf->nframes--;
            continue;
        }
        const char *name;
        struct stat st;
        bool link;
        if (listing_cursor_row(&f->cur, f->i++, &name, &st, &link) != 0)
            continue;
        char rel[PATH_MAX_LEN + 16];
        bool top = strcmp(f->rel, ".") == 0;
        int n = snprintf(rel, sizeof rel, "%s%s%s", top ? "" : f->rel, top ? "" : "/", name);
        if (n < 0 || (size_t)n >= sizeof rel)
            continue;
        struct obj o = {.rel = rel,
                        .name = name,
                        .st = &st,
                        .fd = -1,
                        .dirfd = f->dirfd,
                        .entry = name,
                        .link = link};
        int rc = put_response(pf, part, &o);
        if (rc < 0)
            return rc;
        pf->entries++;
        if (pf->depth == DAV_DEPTH_INF && S_ISDIR(st.st_mode)) {
            int dfd = fsx_open_beneath(pf->c->w->srv->rootfd, rel,
                                       O_RDONLY | O_DIRECTORY | O_NONBLOCK | O_NOCTTY);
            if (dfd >= 0)
                push(pf, dfd, rel, &st);
        }
        return 1;
    }
    return 0;
}

void fs_davprop_free(struct fs_davprop **pp)
{
    struct fs_davprop *pf = *pp;

    if (pf == NULL)
        return;
    *pp = NULL;
    while (pf->nframes > 0)
        frame_free(pf->frames[--pf->nframes]);
    buf_free(&pf->part);
    if (pf->dead != NULL) {
        ds_free(pf->dead);
        free(pf->dead);
    }
    if (pf->fd >= 0)
        close(pf->fd);
    if (pf->sdir >= 0)
        close(pf->sdir);
    free(pf->names);
    free(pf);
}

/* Moves what fits of part into win; the part is empty again once all of
 * it went (its storage is kept for the next response). */
static void give_part(struct fs_davprop *pf, struct buf *win)
{
    size_t n = buf_len(&pf->part), room = buf_room(win);
    size_t k = n < room ? n : room;

    buf_append(win, buf_rptr(&pf->part), k);
    buf_consume(&pf->part, k);
    if (buf_len(&pf->part) == 0)
        pf->part.rpos = pf->part.wpos = 0;
}

int fs_davprop_fill(struct body_src *s)
{
    struct fs_davprop *pf = s->dav;
    struct buf *b = s->page;
    size_t head = pf->chunked ? DAV_CHUNK_HEAD : 0;
    struct buf win;
    int rc = 0;

    b->rpos = b->wpos = 0;
    /* The sidecar folder is looked for once a fill, not once an entry; a
     * fill is one page, so one made meanwhile shows from the next page. */
    if (pf->sdir >= 0)
        close(pf->sdir);
    pf->sdir = -1;
    if (pf->ended)
        return 0;
    clock_gettime(CLOCK_REALTIME, &pf->now);
    buf_init_fixed(&win, b->data + head, b->max - head - (pf->chunked ? 2 : 0));
    while (buf_room(&win) > 0) {
        if (buf_len(&pf->part) > 0) {
            give_part(pf, &win);
            continue;
        }
        if (pf->walked)
            break;
        rc = next_response(pf, &pf->part);
        if (rc == 0) {
            pf->walked = true;
            rc = pf->truncated
                     ? buf_puts(&pf->part, "<D:responsedescription>The walk stopped at "
                                           "its limit of entries or time: ask with "
                                           "Depth 1 for the rest.</D:responsedescription>")
                     : 0;
            if (rc == 0)
                rc = buf_puts(&pf->part, "</D:multistatus>\n");
        }
        if (rc == -EAGAIN)
            break; /* this turn's rows are used up */
        if (rc < 0)
            return rc;
    }
    size_t made = buf_len(&win);
    if (made == 0 && !pf->walked)
        return -EAGAIN; /* only entries this user may not see, so far */
    if (made == 0) {
        pf->ended = true;
        return pf->chunked ? buf_puts(b, "0\r\n\r\n") : 0;
    }
    if (!pf->chunked) {
        buf_commit(b, made);
        return 0;
    }
    char line[32];
    snprintf(line, sizeof line, "%08x\r\n", (unsigned)made);
    memcpy(b->data, line, DAV_CHUNK_HEAD);
    buf_commit(b, head + made);
    return buf_append(b, "\r\n", 2);
}

/* ---- PROPFIND ------------------------------------------------------------ */

/* What the handler keeps while the body comes. */
struct pending {
    int depth;
    bool trailing_slash;
    char rel[PATH_MAX_LEN + 16];
};

/* The Depth header: 0, 1, DAV_DEPTH_INF (also when absent), or -1 bad. */
static int depth_of(const struct http_request *req, int dflt)
{
    struct http_str v = http_header_get(req->headers, req->nheaders, "depth");

    if (v.p == NULL)
        return dflt;
    if (v.len == 1 && v.p[0] == '0')
        return 0;
    if (v.len == 1 && v.p[0] == '1')
        return 1;
    if (http_str_ieq(v.p, v.len, "infinity"))
        return DAV_DEPTH_INF;
    return -1;
}

/* The answer to a body davxml refused. */
static void respond_bad_body(struct conn *c, int rc)
{
    if (rc == -ENOMEM)
        fs_respond_error(c, 500, NULL);
    else if (rc == -E2BIG)
        fs_respond_page(c, 413, NULL, NULL, "This XML body passes the server's limits.");
    else
        fs_respond_page(c, 400, NULL, NULL,
                        rc == -EPERM ? "XML with a DOCTYPE or entities is not taken."
                                     : "This XML body is not one this method takes.");
}

/* Opens rel for PROPFIND/PROPPATCH: the fd, or the answer given (-1). */
static int open_target(struct conn *c, const char *rel, bool trailing_slash, enum auth_right need,
                       struct stat *st)
{
    struct fs_server *s = c->w->srv;
    int fd = fsx_open_beneath(s->rootfd, rel, O_RDONLY | O_NONBLOCK | O_NOCTTY);

    if (fd < 0) {
        fs_respond_page(c, fd == -EACCES || fd == -EPERM ? 403 : 404, NULL, NULL,
                        fd == -EACCES || fd == -EPERM ? FS_WHY_UNREADABLE : NULL);
        return -1;
    }
    if (fstat(fd, st) < 0 || (!S_ISDIR(st->st_mode) && !S_ISREG(st->st_mode)) ||
        (trailing_slash && !S_ISDIR(st->st_mode))) {
        close(fd);
        fs_respond_error(c, 404, NULL);
        return -1;
    }
    if (!fs_auth_may_fd(s, c->x->user, rel, fd, need)) {
        close(fd);
        fs_respond_page(c, 403, NULL, NULL,
                        need == AUTH_READ ? "This account may not read here."
                                          : "This account may not write here.");
        return -1;
    }
    return fd;
}

static void propfind_body(struct conn *c, void *arg, char *data, size_t len)
{
    struct pending *pd = arg;
    struct xchg *x = c->x;
    struct davxml_req *r = malloc(sizeof *r);

    if (r == NULL) {
        fs_respond_error(c, 500, NULL);
        return;
    }
    int rc = davxml_parse(DAVXML_PROPFIND, data, len, r);
    if (rc < 0) {
        free(r);
        respond_bad_body(c, rc);
        return;
    }
    struct fs_davprop *pf = calloc(1, sizeof *pf);
    size_t strs = 0;
    for (size_t i = 0; i < r->nprops; i++)
        strs += strlen(r->props[i].ns) + strlen(r->props[i].name) + 2;
    struct pname *names = pf != NULL ? malloc(r->nprops * sizeof *names + strs + 1) : NULL;
    struct buf *page = names != NULL ? malloc(sizeof *page + DAV_PAGE) : NULL;
    if (page == NULL) {
        free(names);
        free(pf);
        free(r);
        fs_respond_error(c, 500, NULL);
        return;
    }
    char *sp = (char *)(names + r->nprops);
    for (size_t i = 0; i < r->nprops; i++) {
        size_t nl = strlen(r->props[i].ns) + 1, ml = strlen(r->props[i].name) + 1;
        memcpy(sp, r->props[i].ns, nl);
        names[i].ns = sp;
        sp += nl;
        memcpy(sp, r->props[i].name, ml);
        names[i].name = sp;
        sp += ml;
    }
    pf->c = c;
    pf->fd = -1;
    pf->sdir = -1;
    /* The worker's memory of bare entries, made by its first PROPFIND (a
     * failure only means every entry is asked, and the next one tries). */
    if (c->w->davbare.v == NULL)
        (void)ctimeset_init(&c->w->davbare, DAV_BARE_SLOTS);
    buf_init(&pf->part, DAV_PART_MAX);
    pf->names = names;
    pf->nnames = r->nprops;
    pf->find = r->find;
    pf->depth = pd->depth;
    pf->deadline = now_ms() + DAV_MAX_MS;
    pf->chunked = x->minor >= 1;
    snprintf(pf->rel, sizeof pf->rel, "%s", pd->rel);
    free(r);
    pf->dead = malloc(sizeof *pf->dead);
    if (pf->dead != NULL)
        ds_init(pf->dead);
    if (pf->dead == NULL || buf_puts(&pf->part, "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
                                                "<D:multistatus xmlns:D=\"DAV:\">") < 0) {
        fs_davprop_free(&pf);
        free(page);
        fs_respond_error(c, 500, NULL);
        return;
    }
    pf->fd = open_target(c, pf->rel, pd->trailing_slash, AUTH_READ, &pf->st);
    if (pf->fd < 0) {
        fs_davprop_free(&pf);
        free(page);
        return;
    }
    buf_init_fixed(page, page + 1, DAV_PAGE);
    if (!pf->chunked)
        x->body.keep_alive = false; /* HTTP/1.0: the close ends the body */
    struct reply rp = {
        .status = 207, .type = "application/xml; charset=utf-8", .chunked = pf->chunked};
    fs_respond(c, &rp);
    if (c->state != CS_SEND || x->head_only) {
        fs_davprop_free(&pf);
        free(page);
        return;
    }
    x->src.page = page;
    x->src.dav = pf;
}

void fs_dav_propfind(struct conn *c, const struct http_request *req, const struct http_info *info,
                     const struct fs_dav_target *t)
{
    (void)info;
    int depth = depth_of(req, DAV_DEPTH_INF);

    if (depth < 0) {
        fs_respond_page(c, 400, NULL, NULL, "Depth is 0, 1 or infinity.");
        return;
    }
    if (depth == DAV_DEPTH_INF && !c->w->srv->opt.dav_depth_infinity) {
        static const char body[] =
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
            "<D:error xmlns:D=\"DAV:\"><D:propfind-finite-depth/></D:error>\n";
        struct xchg *x = c->x;
        struct reply rp = {.status = 403,
                           .type = "application/xml; charset=utf-8",
                           .has_length = true,
                           .length = sizeof body - 1};
        fs_respond(c, &rp);
        if (c->state == CS_SEND && !x->head_only)
            buf_append(&x->out, body, sizeof body - 1);
        return;
    }
    struct pending *pd = malloc(sizeof *pd);
    if (pd == NULL) {
        fs_respond_error(c, 500, NULL);
        return;
    }
    pd->depth = depth;
    pd->trailing_slash = (t->flags & PATH_TRAILING_SLASH) != 0;
    snprintf(pd->rel, sizeof pd->rel, "%s", t->rel);
    fs_xbody_begin(c, DAVXML_BODY_MAX, propfind_body, pd, free);
}

/* ---- PROPPATCH ----------------------------------------------------------- */

/* The attribute value "LANG\0XML" of pr into out. */
static int attr_value(const struct davxml_prop *pr, struct buf *out)
{
    out->rpos = out->wpos = 0;
    const char *lang = pr->lang != NULL ? pr->lang : "";
    int rc = buf_append(out, lang, strlen(lang) + 1);
    return rc == 0 ? buf_append(out, pr->value, pr->value_len) : rc;
}

/* Applies r's changes to the attributes of fd in order; on a failure at
 * change k, undoes 0..k-1 from old and returns -errno with *failed = k.
 * -ENOTSUP on the first change: the file system has no user attributes. */
static int apply_xattrs(int fd, const struct davxml_req *r, const struct deadset *old,
                        size_t *failed)
{
    struct buf v;
    char key[DAVPROP_XATTR_NAME_MAX + 1];
    int rc = 0;
    size_t k;

    buf_init(&v, DAVXML_ARENA + 1024);
    for (k = 0; k < r->nprops; k++) {
        const struct davxml_prop *pr = &r->props[k];
        long kl = davprop_key(pr->ns, pr->name, key, sizeof key);
        if (kl < 0) {
            rc = (int)kl;
            break;
        }
        if (pr->remove) {
            rc = fremovexattr(fd, key) < 0 && errno != ENODATA ? -errno : 0;
        } else {
            rc = attr_value(pr, &v);
            if (rc == 0 && fsetxattr(fd, key, buf_rptr(&v), buf_len(&v), 0) < 0)
                rc = -errno;
        }
        if (rc < 0)
            break;
    }
    if (rc < 0) {
        *failed = k;
        /* Undo in reverse: each property back to what old says it was. */
        for (size_t j = k; j-- > 0;) {
            const struct davxml_prop *pr = &r->props[j];
            if (davprop_key(pr->ns, pr->name, key, sizeof key) < 0)
                continue;
            long o = ds_find(old, pr->ns, pr->name);
            if (o < 0) {
                fremovexattr(fd, key);
                continue;
            }
            const struct dead *e = &old->v[o];
            const char *lang = ds_str(old, e->lang);
            v.rpos = v.wpos = 0;
            if (buf_append(&v, lang, strlen(lang) + 1) == 0 &&
                buf_append(&v, ds_str(old, e->value), e->value_len) == 0)
                fsetxattr(fd, key, buf_rptr(&v), buf_len(&v), 0);
        }
    }
    buf_free(&v);
    return rc;
}

/* Applies r's changes to the sidecar set d and saves it: all or nothing. */
static int apply_sidecar(const struct fs_server *s, const struct stat *st,
                         const struct davxml_req *r, struct deadset *d, size_t *failed)
{
    char key[DAVPROP_XATTR_NAME_MAX + 1];

    for (size_t k = 0; k < r->nprops; k++) {
        const struct davxml_prop *pr = &r->props[k];
        long kl = davprop_key(pr->ns, pr->name, key, sizeof key);
        long o = ds_find(d, pr->ns, pr->name);
        int rc = kl < 0 ? (int)kl : 0;
        if (rc == 0 && o >= 0)
            d->v[o].gone = true;
        if (rc == 0 && !pr->remove)
            rc = ds_add(d, key + sizeof DAVPROP_XATTR_PREFIX - 1, pr->lang ? pr->lang : "",
                        pr->value, pr->value_len);
        if (rc < 0) {
            *failed = k;
            return rc;
        }
    }
    *failed = 0;
    return sidecar_save(s, st, d);
}

/* The 207 of a PROPPATCH: each property with its status (ok: all 200;
 * else the one at failed with status, protected ones 403, the rest 424). */
static void proppatch_answer(struct conn *c, const char *rel, bool dir, const struct davxml_req *r,
                             int status, size_t failed)
{
    struct buf *page = malloc(sizeof *page);

    if (page == NULL) {
        fs_respond_error(c, 500, NULL);
        return;
    }
    buf_init(page, DAV_PART_MAX);
    int rc = buf_puts(page, "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
                            "<D:multistatus xmlns:D=\"DAV:\"><D:response><D:href>");
    if (rc == 0)
        rc = davxml_href(page, rel, dir);
    if (rc == 0)
        rc = buf_puts(page, "</D:href>");
    for (size_t i = 0; rc == 0 && i < r->nprops; i++) {
        const struct davxml_prop *pr = &r->props[i];
        int st = 200;
        if (status != 200) {
            bool prot = davprop_live_find(pr->ns, pr->name) >= 0;
            st = prot ? 403 : status != 403 && i == failed ? status : 424;
        }
        rc = buf_puts(page, "<D:propstat><D:prop>");
        if (rc == 0)
            rc = davxml_prop_open(page, pr->ns, pr->name, true);
        if (rc == 0)
            rc = buf_printf(page, "</D:prop><D:status>HTTP/1.1 %d %s</D:status>", st,
                            http_reason(st));
        if (rc == 0 && st == 403)
            rc = buf_puts(page, "<D:error><D:cannot-modify-protected-property/></D:error>");
        if (rc == 0)
            rc = buf_puts(page, "</D:propstat>");
    }
    if (rc == 0)
        rc = buf_puts(page, "</D:response></D:multistatus>\n");
    if (rc < 0) {
        buf_free(page);
        free(page);
        fs_respond_error(c, 500, NULL);
        return;
    }
    struct xchg *x = c->x;
    struct reply rp = {.status = 207,
                       .type = "application/xml; charset=utf-8",
                       .has_length = true,
                       .length = buf_len(page)};
    fs_respond(c, &rp);
    if (c->state != CS_SEND || x->head_only) {
        buf_free(page);
        free(page);
        return;
    }
    x->src.page = page;
}

/* The status of a store failure for one property. */
static int store_status(int err)
{
    switch (err) {
    case -ENOSPC:
    case -EDQUOT:
    case -E2BIG:
    case -ENOBUFS:
    case -ERANGE:
        return 507;
    case -ENAMETOOLONG:
    case -EINVAL:
        return 409; /* a name the store cannot keep */
    case -EACCES:
    case -EPERM:
    case -EROFS:
        return 403;
    default:
        return 500;
    }
}

static void proppatch_body(struct conn *c, void *arg, char *data, size_t len)
{
    struct pending *pd = arg;
    struct fs_server *s = c->w->srv;
    struct davxml_req *r = malloc(sizeof *r);
    struct stat st;

    if (r == NULL) {
        fs_respond_error(c, 500, NULL);
        return;
    }
    int rc = davxml_parse(DAVXML_PROPPATCH, data, len, r);
    if (rc < 0) {
        free(r);
        respond_bad_body(c, rc);
        return;
    }
    int fd = open_target(c, pd->rel, pd->trailing_slash, AUTH_WRITE, &st);
    if (fd < 0) {
        free(r);
        return;
    }
    bool dir = S_ISDIR(st.st_mode);
    /* A protected property fails the whole request before anything. */
    bool prot = false;
    for (size_t i = 0; i < r->nprops; i++)
        prot = prot || davprop_live_find(r->props[i].ns, r->props[i].name) >= 0;
    if (prot) {
        close(fd);
        proppatch_answer(c, pd->rel, dir, r, 403, 0);
        free(r);
        return;
    }
    struct deadset *d = malloc(sizeof *d);
    if (d == NULL) {
        close(fd);
        free(r);
        fs_respond_error(c, 500, NULL);
        return;
    }
    ds_init(d);
    size_t failed = 0;
    rc = dead_load(s, fd, &st, d, NULL);
    if (rc == 0 && !d->sidecar) {
        rc = apply_xattrs(fd, r, d, &failed);
        if ((rc == -ENOTSUP || rc == -EOPNOTSUPP) && failed == 0) {
            /* The file system refuses user attributes: the sidecar. */
            ds_free(d);
            ds_init(d);
            rc = sidecar_load(s, &st, d);
            d->sidecar = true;
            if (rc == 0)
                rc = apply_sidecar(s, &st, r, d, &failed);
        }
    } else if (rc == 0) {
        rc = apply_sidecar(s, &st, r, d, &failed);
    }
    close(fd);
    proppatch_answer(c, pd->rel, dir, r, rc == 0 ? 200 : store_status(rc), failed);
    ds_free(d);
    free(d);
    free(r);
}

void fs_dav_proppatch(struct conn *c, const struct http_request *req, const struct http_info *info,
                      const struct fs_dav_target *t)
{
    (void)info;
    int locked = fs_davlock_check(c, req, t->rel, false); /* locks and the If header */
    if (locked != 0) {
        fs_davlock_refuse(c, locked, t->rel);
        return;
    }
    struct pending *pd = malloc(sizeof *pd);

    if (pd == NULL) {
        fs_respond_error(c, 500, NULL);
        return;
    }
    pd->depth = 0;
    pd->trailing_slash = (t->flags & PATH_TRAILING_SLASH) != 0;
    snprintf(pd->rel, sizeof pd->rel, "%s", t->rel);
    fs_xbody_begin(c, DAVXML_BODY_MAX, proppatch_body, pd, free);
}
