#include "get/tree.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "proto/html.h"
#include "proto/json.h"
#include "proto/tree.h"
#include "proto/url.h"

/* What the listing request asks for: ferry's JSON, else a page. */
#define TREE_ACCEPT "application/json, text/html;q=0.9, */*;q=0.1"

struct tdir {
    char *path;  /* the folder's URL path, percent-encoded, ending in "/" */
    char *local; /* where it goes */
    int depth;
};

struct walk {
    const struct fetch_options *o;
    char prefix[4608]; /* "scheme://[userinfo@]authority" as the user wrote it */
    char origin[320];  /* "scheme://authority": absolute links to this server */
    char tmp[4200];    /* the listing's file */
    struct tdir *dirs;
    size_t ndirs, capdirs;
    char **urls, **outputs;
    size_t nfiles, capfiles;
    size_t entries;
    bool over; /* TREE_MAX_ENTRIES was reached */
    bool deep; /* a folder past TREE_MAX_DEPTH was left out */
    /* the children of the folder being read */
    struct tree_child *kids;
    size_t nkids, capkids;
    const char *base;
    size_t skipped;
};

static void say(const struct walk *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(const struct walk *w, const char *fmt, ...)
{
    char line[8192];
    va_list ap;

    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n > sizeof line - 2)
        n = (int)sizeof line - 2;
    line[n++] = '\n';
    dprintf(w->o->err_fd, "ferry: %.*s", n, line);
}

/* Adds a child found in the listing (deduplicated later). */
static int add_kid(struct walk *w, const struct tree_child *c)
{
    if (w->entries + w->nkids >= TREE_MAX_ENTRIES) {
        w->over = true;
        return 1; /* stop reading this listing */
    }
    if (w->nkids == w->capkids) {
        size_t cap = w->capkids ? w->capkids * 2 : 64;
        struct tree_child *v = realloc(w->kids, cap * sizeof *v);
        if (v == NULL)
            return -ENOMEM;
        w->kids = v;
        w->capkids = cap;
    }
    w->kids[w->nkids++] = *c;
    return 0;
}

static int on_link(void *arg, const char *href, size_t len)
{
    struct walk *w = arg;
    struct tree_child c;

    if (tree_link(w->origin, w->base, href, len, &c) != TREE_CHILD) {
        w->skipped++;
        return 0;
    }
    return add_kid(w, &c);
}

static int on_entry(void *arg, const struct json_entry *e)
{
    struct walk *w = arg;
    struct tree_child c;

    if (tree_link(w->origin, w->base, e->href, strlen(e->href), &c) != TREE_CHILD) {
        w->skipped++;
        return 0;
    }
    c.dir = e->dir;
    return add_kid(w, &c);
}

static int cmp_kid(const void *a, const void *b)
{
    const struct tree_child *x = a, *y = b;
    int r = strcmp(x->name, y->name);

    return r != 0 ? r : (int)x->dir - (int)y->dir;
}

/* Makes the folder path, or enters it when it is a real folder already
 * (never a symbolic link to one). Returns 0 or -errno. */
static int make_dir(const char *path)
{
    struct stat st;

    if (mkdir(path, 0777) == 0)
        return 0;
    int err = errno;
    if (err != EEXIST)
        return -err;
    if (lstat(path, &st) < 0)
        return -errno;
    return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

static char *join(const char *a, const char *sep, const char *b)
{
    size_t n = strlen(a) + strlen(sep) + strlen(b) + 1;
    char *s = malloc(n);

    if (s != NULL)
        snprintf(s, n, "%s%s%s", a, sep, b);
    return s;
}

static int add_dir(struct walk *w, char *path, char *local, int depth)
{
    if (path == NULL || local == NULL)
        goto fail;
    if (w->ndirs == w->capdirs) {
        size_t cap = w->capdirs ? w->capdirs * 2 : 16;
        struct tdir *v = realloc(w->dirs, cap * sizeof *v);
        if (v == NULL)
            goto fail;
        w->dirs = v;
        w->capdirs = cap;
    }
    w->dirs[w->ndirs++] = (struct tdir){.path = path, .local = local, .depth = depth};
    return 0;
fail:
    free(path);
    free(local);
    return -ENOMEM;
}

static int add_file(struct walk *w, char *url, char *local)
{
    if (url == NULL || local == NULL)
        goto fail;
    if (w->nfiles == w->capfiles) {
        size_t cap = w->capfiles ? w->capfiles * 2 : 64;
        char **u = realloc(w->urls, cap * sizeof *u);
        if (u == NULL)
            goto fail;
        w->urls = u;
        char **l = realloc(w->outputs, cap * sizeof *l);
        if (l == NULL)
            goto fail;
        w->outputs = l;
        w->capfiles = cap;
    }
    w->urls[w->nfiles] = url;
    w->outputs[w->nfiles++] = local;
    return 0;
fail:
    free(url);
    free(local);
    return -ENOMEM;
}

/* Reads n bytes from fd into p. Returns n, fewer at the end of the file,
 * or -errno. */
static ssize_t read_all(int fd, char *p, size_t n)
{
    size_t got = 0;

    while (got < n) {
        ssize_t k = read(fd, p + got, n - got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return -errno;
        if (k == 0)
            break;
        got += (size_t)k;
    }
    return (ssize_t)got;
}

/* Fetches the listing of dir d into buf (at most TREE_LISTING_MAX bytes). */
static enum fetch_result get_listing(struct walk *w, const struct tdir *d, struct buf *b)
{
    struct fetch_options lo = *w->o;
    char *url = join(w->prefix, "", d->path);
    const char *urls[1] = {url};

    if (url == NULL)
        return FETCH_LOCAL;
    lo.urls = urls;
    lo.nurls = 1;
    lo.output = w->tmp;
    lo.outputs = NULL;
    lo.outdir = NULL;
    lo.disposition = false;
    lo.force = true;
    lo.resume = false;
    lo.quiet = true;
    lo.progress = false;
    lo.has_sha256 = false;
    lo.accept = TREE_ACCEPT;
    enum fetch_result r = fetch_run(&lo);
    free(url);
    if (r != FETCH_OK)
        return r;
    int fd = open(w->tmp, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;
    if (fd < 0)
        return FETCH_LOCAL;
    if (fstat(fd, &st) < 0 || st.st_size < 0 || (uint64_t)st.st_size > TREE_LISTING_MAX) {
        close(fd);
        say(w, "%s%s: the listing is too big (more than %u MiB)", w->prefix, d->path,
            TREE_LISTING_MAX >> 20);
        unlink(w->tmp);
        return FETCH_PROTOCOL;
    }
    buf_init(b, (size_t)st.st_size + 1);
    char *p = buf_reserve(b, (size_t)st.st_size + 1);
    ssize_t n = p != NULL ? read_all(fd, p, (size_t)st.st_size) : -ENOMEM;
    close(fd);
    unlink(w->tmp);
    if (n < 0 || n != (ssize_t)st.st_size)
        return FETCH_LOCAL;
    buf_commit(b, (size_t)n);
    return FETCH_OK;
}

/* Reads folder i's listing: its folders go on the list (made now), its
 * files on the download list. */
static enum fetch_result read_dir(struct walk *w, size_t i)
{
    struct buf b;
    char scratch[16384];
    struct tdir d = w->dirs[i]; /* w->dirs may move as folders are added */
    enum fetch_result result = FETCH_OK;

    enum fetch_result r = get_listing(w, &d, &b);
    if (r != FETCH_OK)
        return r;
    const char *s = buf_rptr(&b);
    size_t len = buf_len(&b), k = 0;
    while (k < len && (s[k] == ' ' || s[k] == '\n' || s[k] == '\r' || s[k] == '\t'))
        k++;
    w->base = d.path;
    w->nkids = 0;
    w->skipped = 0;
    int rc = k < len && s[k] == '{'
                 ? json_listing_parse(s, len, scratch, sizeof scratch, on_entry, w)
                 : tree_html_links(s, len, scratch, sizeof scratch, on_link, w);
    buf_free(&b);
    if (rc < 0 && rc != -ENOMEM) {
        say(w, "%s%s: the listing is not valid JSON", w->prefix, d.path);
        return FETCH_PROTOCOL;
    }
    if (rc == -ENOMEM)
        return FETCH_LOCAL;
    if (w->o->verbose && w->skipped > 0)
        say(w, "%s%s: %zu links are not entries of this folder (passed over)", w->prefix, d.path,
            w->skipped);
    qsort(w->kids, w->nkids, sizeof *w->kids, cmp_kid);
    for (size_t j = 0; j < w->nkids; j++) {
        const struct tree_child *c = &w->kids[j];
        if (j > 0 && strcmp(c->name, w->kids[j - 1].name) == 0)
            continue; /* the same name twice (a page links it twice, or folds names) */
        struct buf enc;
        buf_init(&enc, 3 * TREE_NAME_MAX + 2);
        if (url_encode(&enc, c->raw, strlen(c->raw), 0) < 0 ||
            buf_append(&enc, c->dir ? "/" : "", c->dir ? 2 : 1) < 0) {
            buf_free(&enc);
            return FETCH_LOCAL;
        }
        char *local = join(d.local, "/", c->name);
        char *path = join(d.path, "", buf_rptr(&enc));
        buf_free(&enc);
        w->entries++;
        if (!c->dir) {
            if (add_file(w, path != NULL ? join(w->prefix, "", path) : NULL, local) < 0) {
                free(path);
                return FETCH_LOCAL;
            }
            free(path);
            continue;
        }
        if (d.depth + 1 > TREE_MAX_DEPTH) {
            w->deep = true;
            say(w, "%s: deeper than %d folders: not entered", local ? local : c->name,
                TREE_MAX_DEPTH);
            free(local);
            free(path);
            continue;
        }
        if (local != NULL) {
            int mrc = make_dir(local);
            if (mrc < 0) {
                say(w, "%s: %s", local,
                    mrc == -ENOTDIR ? "there and not a folder (a symbolic link is never followed)"
                                    : strerror(-mrc));
                free(local);
                free(path);
                result = FETCH_LOCAL; /* the other entries still go */
                continue;
            }
        }
        if (add_dir(w, path, local, d.depth + 1) < 0)
            return FETCH_LOCAL;
    }
    return result;
}

/* Sets up w for the tree at url_str and its first folder. */
static enum fetch_result walk_start(struct walk *w, const char *url_str)
{
    const struct fetch_options *o = w->o;
    struct url u;
    char auth[300], name[TREE_NAME_MAX + 1], top[4096];

    if (url_parse(url_str, &u) < 0 || u.scheme == URL_RAW) {
        say(w, "-r takes an http:// or https:// URL of a folder: %s", url_str);
        return FETCH_USAGE;
    }
    url_authority(&u, auth, sizeof auth);
    snprintf(w->origin, sizeof w->origin, "%s://%s", u.scheme == URL_HTTPS ? "https" : "http",
             auth);
    /* The prefix keeps the userinfo the user typed, so every request can
     * log in as the first does. */
    const char *sch = strstr(url_str, "://");
    if (sch != NULL && memchr(url_str, '/', (size_t)(sch - url_str)) != NULL)
        sch = NULL; /* "host/p?u=http://...": no scheme of its own */
    const char *rest = sch != NULL ? sch + 3 : url_str;
    size_t alen = strcspn(rest, "/?#");
    snprintf(w->prefix, sizeof w->prefix, "%s%.*s", sch != NULL ? "" : "http://",
             (int)(rest - url_str + alen), url_str);
    /* The folder's path, without a query, ending in "/". */
    char *q = strchr(u.path, '?');
    if (q != NULL)
        *q = '\0';
    size_t pl = strlen(u.path);
    if (pl == 0 || u.path[pl - 1] != '/') {
        if (pl + 2 > sizeof u.path)
            return FETCH_USAGE;
        memcpy(u.path + pl, "/", 2);
    }
    /* Its local folder: the last segment, or the host for the root. */
    struct url seg = u;
    size_t sl = strlen(seg.path);
    while (sl > 0 && seg.path[sl - 1] == '/')
        seg.path[--sl] = '\0';
    char raw[4096];
    url_basename(&seg, raw, sizeof raw);
    if (raw[0] == '\0')
        snprintf(raw, sizeof raw, "%s", u.host);
    if (tree_safe_name(raw, strlen(raw), name, sizeof name) < 0) {
        say(w, "%s: no folder name can be made from this URL", url_str);
        return FETCH_USAGE;
    }
    if (o->outdir != NULL)
        snprintf(top, sizeof top, "%s/%s", o->outdir, name);
    else
        snprintf(top, sizeof top, "%s", name);
    int rc = make_dir(top);
    if (rc < 0) {
        say(w, "%s: %s", top,
            rc == -ENOTDIR ? "there and not a folder (a symbolic link is never followed)"
                           : strerror(-rc));
        return FETCH_LOCAL;
    }
    if (add_dir(w, strdup(u.path), strdup(top), 0) < 0)
        return FETCH_LOCAL;
    return FETCH_OK;
}

static void walk_free(struct walk *w)
{
    for (size_t i = 0; i < w->ndirs; i++) {
        free(w->dirs[i].path);
        free(w->dirs[i].local);
    }
    for (size_t i = 0; i < w->nfiles; i++) {
        free(w->urls[i]);
        free(w->outputs[i]);
    }
    free(w->dirs);
    free(w->urls);
    free(w->outputs);
    free(w->kids);
}

/* One URL's tree. */
static enum fetch_result tree_one(const struct fetch_options *o, const char *url_str,
                                  const char *tmpdir)
{
    struct walk w = {.o = o};
    enum fetch_result r;

    snprintf(w.tmp, sizeof w.tmp, "%s/listing", tmpdir);
    r = walk_start(&w, url_str);
    if (r != FETCH_OK) {
        walk_free(&w);
        return r;
    }
    /* A folder whose listing fails is reported and passed over: the rest
     * of the tree is still fetched, and the first failure is the result. */
    for (size_t i = 0; i < w.ndirs; i++) {
        enum fetch_result dr = read_dir(&w, i);
        if (dr != FETCH_OK && r == FETCH_OK)
            r = dr;
    }
    if (w.over)
        say(&w, "%s: more than %d entries: the rest is not fetched", url_str, TREE_MAX_ENTRIES);
    if (w.nfiles > 0) {
        struct fetch_options fo = *o;
        if (w.nfiles > (size_t)INT32_MAX) {
            walk_free(&w);
            return FETCH_LOCAL;
        }
        fo.urls = (const char *const *)w.urls;
        fo.outputs = (const char *const *)w.outputs;
        fo.nurls = (int)w.nfiles;
        fo.output = NULL;
        fo.disposition = false;
        enum fetch_result fr = fetch_run(&fo);
        if (r == FETCH_OK)
            r = fr;
    }
    if (r == FETCH_OK && !o->quiet)
        say(&w, "%s: %zu files in %zu folders", w.ndirs > 0 ? w.dirs[0].local : url_str, w.nfiles,
            w.ndirs);
    if (r == FETCH_OK && (w.over || w.deep))
        r = FETCH_PROTOCOL;
    walk_free(&w);
    return r;
}

enum fetch_result tree_run(const struct fetch_options *o)
{
    enum fetch_result first = FETCH_OK;
    const char *t = getenv("TMPDIR");
    char tmpdir[4096];

    snprintf(tmpdir, sizeof tmpdir, "%s/ferry-tree.XXXXXX", t != NULL && t[0] != '\0' ? t : "/tmp");
    if (mkdtemp(tmpdir) == NULL) {
        dprintf(o->err_fd, "ferry: cannot make a temporary folder %s: %s\n", tmpdir,
                strerror(errno));
        return FETCH_LOCAL;
    }
    for (int i = 0; i < o->nurls; i++) {
        enum fetch_result r = tree_one(o, o->urls[i], tmpdir);
        if (r != FETCH_OK && first == FETCH_OK)
            first = r;
    }
    rmdir(tmpdir);
    return first;
}
