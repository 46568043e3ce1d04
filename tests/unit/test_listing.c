/* Unit tests for serve/listing: human sizes, and directory pages built from a
 * temporary directory full of hostile names. */
#include "unit.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "serve/listing.h"
#include "core/fmt.h"
#include "core/fsx.h"
#include "proto/json.h"

#include <openssl/evp.h>

/* ---- fmt_size ------------------------------------------------- */

struct size_case {
    const char *name;
    unsigned long long size;
    const char *want;
};

#define KIB 1024ull
static const struct size_case size_cases[] = {
    {"size 0", 0, "0 B"},
    {"size 1", 1, "1 B"},
    {"size 912", 912, "912 B"},
    {"size 1023", 1023, "1023 B"},
    {"size 1 KiB", KIB, "1.0 KiB"},
    {"size 1.5 KiB", 1536, "1.5 KiB"},
    {"size 10 KiB", 10 * KIB, "10.0 KiB"},
    {"size 1 MiB", KIB *KIB, "1.0 MiB"},
    {"size 1.5 MiB", 1536 * KIB, "1.5 MiB"},
    {"size 3 GiB", 3 * KIB *KIB *KIB, "3.0 GiB"},
    {"size 6 GiB", 6 * KIB *KIB *KIB, "6.0 GiB"},
    {"size 1 TiB", KIB *KIB *KIB *KIB, "1.0 TiB"},
    {"size 1 PiB", KIB *KIB *KIB *KIB *KIB, "1.0 PiB"},
    {"size 1 EiB", KIB *KIB *KIB *KIB *KIB *KIB, "1.0 EiB"},
    {"size ULLONG_MAX", ULLONG_MAX, "16.0 EiB"},
};

static void test_size(void **state)
{
    const struct size_case *c = *state;
    char out[64];

    memset(out, 'Z', sizeof out);
    fmt_size(c->size, out, sizeof out);
    if (strcmp(out, c->want) != 0)
        fail_msg("%s: got \"%s\", want \"%s\"", c->name, out, c->want);
}

/* A short output buffer gets a NUL-terminated prefix and nothing past it. */
static void test_size_short_buffer(void **state)
{
    char out[16];

    for (size_t sz = 1; sz < 10; sz++) {
        memset(out, 'Z', sizeof out);
        fmt_size(1536, out, sz);
        assert_int_equal(strnlen(out, sz), sz - 1 < 7 ? sz - 1 : 7);
        assert_memory_equal(out, "1.5 KiB", strlen(out));
        for (size_t k = sz; k < sizeof out; k++)
            assert_int_equal(out[k], 'Z');
    }
}

/* ---- listing_build ------------------------------------------------------ */

struct entry_spec {
    const char *name;
    bool dir;
    bool hidden;
};

/* What the temporary directory holds (besides links and a FIFO). */
static const struct entry_spec tree[] = {
    {"<script>", false, false},  {"<img src=x onerror=alert(1)>", false, false},
    {"a\"b", false, false},      {"x&y", false, false},
    {"it's", false, false},      {"%41", false, false},
    {"new\nline", false, false}, {"\xff\xfe.bin", false, false},
    {"sp ace", false, false},    {"size1536", false, false},
    {"adir", true, false},       {"zdir", true, false},
    {"<b>dir", true, false},     {".hidden", false, true},
    {".hdir", true, true},
};

struct fixture {
    char path[64];
    int rootfd;
    bool links_beneath; /* openat2 works, so a link inside the root is listed */
};

static struct fixture fixture;

/* Setup: an empty temporary directory as the root. */
static int make_empty(void **state)
{
    struct fixture *f = &fixture;

    strcpy(f->path, "/tmp/ferry-listing-XXXXXX");
    if (mkdtemp(f->path) == NULL)
        return -1;
    f->rootfd = open(f->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    f->links_beneath = false;
    *state = f;
    return f->rootfd >= 0 ? 0 : -1;
}

/* Setup: the temporary root filled with the tree, links and a FIFO. */
static int make_tree(void **state)
{
    if (make_empty(state) < 0)
        return -1;
    struct fixture *f = *state;
    for (size_t i = 0; i < ARRAY_LEN(tree); i++) {
        if (tree[i].dir) {
            assert_int_equal(mkdirat(f->rootfd, tree[i].name, 0755), 0);
            continue;
        }
        int fd = openat(f->rootfd, tree[i].name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        if (strcmp(tree[i].name, "size1536") == 0) {
            static char data[1536];
            assert_int_equal(write(fd, data, sizeof data), (ssize_t)sizeof data);
        }
        close(fd);
    }
    int fd = openat(f->rootfd, "<b>dir/in&sub", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(symlinkat("/etc", f->rootfd, "escape-link"), 0);
    assert_int_equal(symlinkat("../../../../../../../etc", f->rootfd, "dotdot-link"), 0);
    assert_int_equal(symlinkat("missing", f->rootfd, "dangling-link"), 0);
    assert_int_equal(symlinkat("adir", f->rootfd, "inside-link"), 0);
    assert_int_equal(mkfifoat(f->rootfd, "fifo", 0644), 0);
    fd = fsx_open_beneath(f->rootfd, "inside-link", O_PATH);
    f->links_beneath = fd >= 0;
    if (fd >= 0)
        close(fd);
    return 0;
}

static int remove_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    return remove(path);
}

/* Teardown: removes the temporary root and all it holds. */
static int remove_tree(void **state)
{
    struct fixture *f = *state;

    close(f->rootfd);
    return nftw(f->path, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Builds the listing of dir (beneath the fixture's root) as a string. */
static char *build(struct fixture *f, const char *dir, const char *rel, bool hidden)
{
    struct buf b;
    int dirfd = openat(f->rootfd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    assert_true(dirfd >= 0);
    buf_init(&b, 1 << 20);
    struct listing_page lp = {.rel = rel};
    int rc = listing_build(f->rootfd, dirfd, &lp, hidden, &b);
    if (rc != 0)
        fail_msg("listing_build gave %d", rc);
    assert_int_equal(buf_append(&b, "", 1), 0);
    close(dirfd);
    char *s = strdup(buf_rptr(&b));
    assert_non_null(s);
    buf_free(&b);
    return s;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

struct row {
    char name[256];
    bool dir;
};

/* Reads every entry link of the page ("<a href=": the sort heads,
 * breadcrumbs and the tar link carry a class first). Each must be "./" and a percent-encoded name
 * (only unreserved bytes and upper-case %XX) and "/" for a directory, or
 * "../". Returns the number of names, decoded into rows. */
static size_t read_hrefs(const char *page, struct row *rows, size_t max, bool *parent)
{
    size_t n = 0;
    const char *p = page;

    *parent = false;
    while ((p = strstr(p, "<a href=\"")) != NULL) {
        p += 9;
        const char *end = strchr(p, '"');
        assert_non_null(end);
        if (end - p == 3 && memcmp(p, "../", 3) == 0) {
            *parent = true;
            p = end;
            continue;
        }
        if (end - p < 3 || memcmp(p, "./", 2) != 0)
            fail_msg("href \"%.*s\" does not start with ./", (int)(end - p), p);
        assert_true(n < max);
        struct row *r = &rows[n++];
        size_t o = 0;
        r->dir = end[-1] == '/';
        for (const char *q = p + 2; q < end - r->dir; q++) {
            unsigned char c = (unsigned char)*q;
            assert_true(o + 1 < sizeof r->name);
            if (c == '%') {
                if (end - q < 3 || hexval(q[1]) < 0 || hexval(q[2]) < 0)
                    fail_msg("bad escape in href \"%.*s\"", (int)(end - p), p);
                r->name[o++] = (char)(hexval(q[1]) * 16 + hexval(q[2]));
                q += 2;
            } else if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                       c == '-' || c == '.' || c == '_' || c == '~') {
                r->name[o++] = (char)c;
            } else {
                fail_msg("href \"%.*s\" holds a raw byte 0x%02x", (int)(end - p), p, c);
            }
        }
        r->name[o] = '\0';
        p = end;
    }
    return n;
}

/* Every "<" of the page (before its own script) opens one of the page's own tags: no name can have
 * added markup. */
static void check_tags(const char *page)
{
    static const char *const allowed[] = {
        "!DOCTYPE html>", "html ", "html>", "head>",  "meta ", "title>", "style>", "body>",
        "body ",          "h1>",   "table>", "tr>",  "th>",   "th ",    "td>",    "td ",
        "a ",             "a>",    "nav>",   "p>",   "span ", "span>",  "thead>", "tbody>",
        "time ",          "time>", "script>", "div ", "div>", "label>", "input ", "button ",
        "button>",        NULL,
    };
    const char *script = strstr(page, "<script>");
    for (const char *p = strchr(page, '<'); p != NULL && p != script; p = strchr(p + 1, '<')) {
        const char *t = p[1] == '/' ? p + 2 : p + 1;
        bool ok = false;
        for (size_t i = 0; allowed[i] != NULL && !ok; i++)
            ok = strncmp(t, allowed[i], strlen(allowed[i])) == 0;
        if (!ok)
            fail_msg("unexpected markup at \"%.20s\"", p);
    }
}

/* Occurrences of s in page. */
static size_t count(const char *page, const char *s)
{
    size_t n = 0;
    for (const char *p = strstr(page, s); p != NULL; p = strstr(p + 1, s))
        n++;
    return n;
}

static int cmp_row(const void *a, const void *b)
{
    const struct row *x = a, *y = b;
    if (x->dir != y->dir)
        return x->dir ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* The rows are exactly the expected entries, directories first, each group
 * in byte order. */
static void check_rows(const struct row *got, size_t n, bool hidden, bool inside_link)
{
    struct row want[ARRAY_LEN(tree) + 1];
    size_t m = 0;

    for (size_t i = 0; i < ARRAY_LEN(tree); i++) {
        if (tree[i].hidden && !hidden)
            continue;
        strcpy(want[m].name, tree[i].name);
        want[m++].dir = tree[i].dir;
    }
    if (inside_link) {
        strcpy(want[m].name, "inside-link");
        want[m++].dir = true;
    }
    qsort(want, m, sizeof want[0], cmp_row);
    if (n != m)
        fail_msg("%zu entries listed, want %zu", n, m);
    for (size_t i = 0; i < m; i++)
        if (got[i].dir != want[i].dir || strcmp(got[i].name, want[i].name) != 0)
            fail_msg("entry %zu is \"%s\"%s, want \"%s\"%s", i, got[i].name, got[i].dir ? "/" : "",
                     want[i].name, want[i].dir ? "/" : "");
}

static void test_root_listing(void **state)
{
    struct fixture *f = *state;
    struct row rows[64];
    bool parent;

    char *page = build(f, ".", ".", false);

    check_tags(page);
    assert_int_equal(count(page, "<script"), 2); /* the page's own two, at the end */
    assert_non_null(strstr(page, "</tbody>\n</table>\n<script>/*"));
    assert_null(strstr(page, "<img"));
    assert_null(strstr(page, "<b>"));
    size_t n = read_hrefs(page, rows, ARRAY_LEN(rows), &parent);
    assert_false(parent); /* no way up from the root */
    check_rows(rows, n, false, f->links_beneath);
    /* From here on the page up to its scripts: their code may hold any
     * word (page.js sets tr.hidden). */
    char *scripts = strstr(page, "</tbody>");
    assert_non_null(scripts);
    *scripts = '\0';
    assert_null(strstr(page, "hidden"));
    assert_null(strstr(page, "hdir"));
    assert_null(strstr(page, "escape-link"));
    assert_null(strstr(page, "dotdot-link"));
    assert_null(strstr(page, "dangling-link"));
    assert_null(strstr(page, "fifo"));
    /* Link texts are the escaped names. */
    assert_non_null(strstr(page, ">&lt;script&gt;</a>"));
    assert_non_null(strstr(page, ">&lt;img src=x onerror=alert(1)&gt;</a>"));
    assert_non_null(strstr(page, ">a&quot;b</a>"));
    assert_non_null(strstr(page, ">x&amp;y</a>"));
    assert_non_null(strstr(page, ">it&#39;s</a>"));
    assert_non_null(strstr(page, ">%41</a>"));
    assert_non_null(strstr(page, ">new\xef\xbf\xbdline</a>"));
    assert_non_null(strstr(page, ">&lt;b&gt;dir/</a>"));
    assert_null(strstr(page, "new\nline"));
    assert_non_null(strstr(page, "href=\"./%3Cscript%3E\""));
    assert_non_null(strstr(page, "href=\"./%2541\""));
    assert_non_null(strstr(page, "href=\"./new%0Aline\""));
    assert_non_null(strstr(page, "href=\"./%FF%FE.bin\""));
    assert_non_null(strstr(page, "href=\"./%3Cb%3Edir/\""));
    /* The file's size is shown the human way. */
    assert_non_null(strstr(page, "size1536</a></td><td class=\"s\" data-bytes=\"1536\">1.5 KiB<"));
    assert_non_null(strstr(page, "<title>Index of /</title>"));
    free(page);
}

static void test_hidden_listing(void **state)
{
    struct fixture *f = *state;
    struct row rows[64];
    bool parent;

    char *page = build(f, ".", ".", true);

    check_tags(page);
    size_t n = read_hrefs(page, rows, ARRAY_LEN(rows), &parent);
    check_rows(rows, n, true, f->links_beneath);
    assert_non_null(strstr(page, "href=\"./.hidden\""));
    assert_non_null(strstr(page, "href=\"./.hdir/\""));
    assert_null(strstr(page, "escape-link"));
    free(page);
}

/* A directory beneath the root: its name in the title is escaped, and it
 * has a link up. */
static void test_sub_listing(void **state)
{
    struct fixture *f = *state;
    struct row rows[8];
    bool parent;

    char *page = build(f, "<b>dir", "<b>dir", false);

    check_tags(page);
    assert_null(strstr(page, "<b>"));
    assert_non_null(strstr(page, "<title>Index of /&lt;b&gt;dir/</title>"));
    assert_non_null(strstr(page, "<h1>Index of /&lt;b&gt;dir/</h1>"));
    size_t n = read_hrefs(page, rows, ARRAY_LEN(rows), &parent);
    assert_true(parent);
    assert_int_equal(n, 1);
    assert_string_equal(rows[0].name, "in&sub");
    assert_false(rows[0].dir);
    assert_non_null(strstr(page, ">in&amp;sub</a>"));
    free(page);
}

/* What keep was asked: each entry's listed and real path. */
struct kept {
    size_t n;
    char name[32][64], real[32][64];
    const char *refuse; /* a real path keep says no to */
};

static bool keep_record(void *arg, const char *name, const char *real)
{
    struct kept *k = arg;

    if (k->n < ARRAY_LEN(k->name)) {
        snprintf(k->name[k->n], sizeof k->name[0], "%s", name);
        snprintf(k->real[k->n], sizeof k->real[0], "%s", real);
        k->n++;
    }
    return k->refuse == NULL || strcmp(real, k->refuse) != 0;
}

/* The real path keep was given for name, or NULL when it was not asked. */
static const char *kept_real(const struct kept *k, const char *name)
{
    for (size_t i = 0; i < k->n; i++)
        if (strcmp(k->name[i], name) == 0)
            return k->real[i];
    return NULL;
}

/* keep gets where each entry really is: a link's target beneath the root,
 * a folder reached through a link by its real path; what it refuses is
 * left out, link or not. */
static void test_keep_real_paths(void **state)
{
    struct fixture *f = *state;
    struct kept k = {.refuse = "adir"};
    struct buf b;

    buf_init(&b, 1 << 20);
    struct listing_page lp = {.rel = ".", .keep = keep_record, .keep_arg = &k};
    assert_int_equal(listing_build(f->rootfd, f->rootfd, &lp, false, &b), 0);
    assert_int_equal(buf_append(&b, "", 1), 0);
    assert_string_equal(kept_real(&k, "size1536"), "size1536");
    assert_string_equal(kept_real(&k, "<b>dir"), "<b>dir");
    assert_string_equal(kept_real(&k, "adir"), "adir");
    assert_null(kept_real(&k, "escape-link")); /* leads outside: never listed */
    assert_null(kept_real(&k, "fifo"));        /* not a file or a folder */
    assert_null(strstr(buf_rptr(&b), "href=\"./adir/"));
    if (f->links_beneath) {
        assert_string_equal(kept_real(&k, "inside-link"), "adir");
        assert_null(strstr(buf_rptr(&b), "href=\"./inside-link/"));
    }
    assert_non_null(strstr(buf_rptr(&b), "href=\"./size1536\""));
    buf_free(&b);

    /* <b>dir spelled through a link to it: its entry's real path is the
     * folder's real one, not the spelling. */
    if (f->links_beneath) {
        assert_int_equal(symlinkat("<b>dir", f->rootfd, "via"), 0);
        int dirfd = fsx_open_beneath(f->rootfd, "via", O_RDONLY | O_DIRECTORY);
        assert_true(dirfd >= 0);
        struct kept k2 = {.refuse = NULL};
        struct listing_page lp2 = {.rel = "via", .keep = keep_record, .keep_arg = &k2};
        buf_init(&b, 1 << 20);
        assert_int_equal(listing_build(f->rootfd, dirfd, &lp2, false, &b), 0);
        close(dirfd);
        buf_free(&b);
        assert_int_equal(k2.n, 1);
        assert_string_equal(kept_real(&k2, "via/in&sub"), "<b>dir/in&sub");
    }
}

/* A page that does not fit the output buffer's cap is -ENOBUFS. */
static void test_nobufs(void **state)
{
    struct fixture *f = *state;
    struct buf b;

    buf_init(&b, 512);
    struct listing_page lp = {.rel = "."};
    assert_int_equal(listing_build(f->rootfd, f->rootfd, &lp, false, &b), -ENOBUFS);
    assert_true(buf_len(&b) <= 512);
    buf_free(&b);
}

/* An empty directory still gives a whole page. */
static void test_empty(void **state)
{
    struct fixture *f = *state;
    struct row rows[4];
    bool parent;
    char *page = build(f, ".", ".", true);
    check_tags(page);
    assert_int_equal(read_hrefs(page, rows, ARRAY_LEN(rows), &parent), 0);
    assert_non_null(strstr(page, "</table>"));
    assert_non_null(strstr(page, "</html>"));
    free(page);
}


/* ---- listing_order_parse ------------------------------------------------ */

struct order_case {
    const char *name;
    const char *q;
    enum listing_key key;
    bool desc;
};

static const struct order_case order_cases[] = {
    {"order: empty", "", LISTING_BY_NAME, false},
    {"order: size", "sort=size", LISTING_BY_SIZE, false},
    {"order: size desc", "sort=size&order=desc", LISTING_BY_SIZE, true},
    {"order: desc first", "order=desc&sort=date", LISTING_BY_DATE, true},
    {"order: name desc", "sort=name&order=desc", LISTING_BY_NAME, true},
    {"order: date asc", "sort=date&order=asc", LISTING_BY_DATE, false},
    {"order: upper case is unknown", "sort=SIZE&order=DESC", LISTING_BY_NAME, false},
    {"order: escaped is unknown", "sort=%73ize", LISTING_BY_NAME, false},
    {"order: longer value is unknown", "sort=sizes&order=descending", LISTING_BY_NAME, false},
    {"order: shorter value is unknown", "sort=siz&order=des", LISTING_BY_NAME, false},
    {"order: unknown order value", "sort=date&order=up", LISTING_BY_DATE, false},
    {"order: later unknown sort wins", "sort=size&sort=bogus", LISTING_BY_NAME, false},
    {"order: later order wins", "order=desc&order=asc", LISTING_BY_NAME, false},
    {"order: bare sort", "sort&order=desc", LISTING_BY_NAME, true},
    {"order: empty value", "sort=&order=", LISTING_BY_NAME, false},
    {"order: empty fields", "&&sort=date&&", LISTING_BY_DATE, false},
    {"order: other fields ignored", "tar&x=1&sort=size", LISTING_BY_SIZE, false},
    {"order: NUL in value", "sort=size\0", LISTING_BY_NAME, false},
};

static void test_order(void **state)
{
    const struct order_case *c = *state;
    size_t len = strlen(c->q) + (strcmp(c->name, "order: NUL in value") == 0);
    struct listing_order o = {LISTING_BY_DATE, true};
    struct guard g;

    guard_open(&g, 64);
    listing_order_parse(guard_put(&g, c->q, len), len, &o);
    if (o.key != c->key || o.desc != c->desc)
        fail_msg("%s: got %d/%d, want %d/%d", c->name, o.key, o.desc, c->key, c->desc);
    /* Every truncation parses without reading past its end. */
    for (size_t k = 0; k <= len; k++)
        listing_order_parse(guard_put(&g, c->q, k), k, &o);
    guard_close(&g);
}

/* ---- listing_sort ------------------------------------------------------- */

static const struct listing_entry sample[] = {
    {"b.txt", false, 300, 2000, false}, {"a.txt", false, 300, 1000, false},
    {"zdir", true, 4096, 500, false},   {"c.bin", false, 10, 3000, false},
    {"adir", true, 4096, 900, false},   {"big", false, 1u << 30, 1500, false},
};

struct sort_case {
    const char *name;
    struct listing_order o;
    const char *want; /* names in order, space-separated */
};

static const struct sort_case sort_cases[] = {
    {"sort: name asc", {LISTING_BY_NAME, false}, "adir zdir a.txt b.txt big c.bin"},
    {"sort: name desc", {LISTING_BY_NAME, true}, "zdir adir c.bin big b.txt a.txt"},
    {"sort: size asc, ties by name", {LISTING_BY_SIZE, false}, "adir zdir c.bin a.txt b.txt big"},
    {"sort: size desc, ties by name", {LISTING_BY_SIZE, true}, "adir zdir big a.txt b.txt c.bin"},
    {"sort: date asc", {LISTING_BY_DATE, false}, "zdir adir a.txt big b.txt c.bin"},
    {"sort: date desc", {LISTING_BY_DATE, true}, "adir zdir c.bin b.txt big a.txt"},
};

static void test_sort(void **state)
{
    const struct sort_case *c = *state;
    struct listing_entry v[ARRAY_LEN(sample)];
    char got[128] = "";

    memcpy(v, sample, sizeof v);
    listing_sort(v, ARRAY_LEN(v), c->o);
    for (size_t i = 0; i < ARRAY_LEN(v); i++) {
        if (i > 0)
            strcat(got, " ");
        strcat(got, v[i].name);
    }
    if (strcmp(got, c->want) != 0)
        fail_msg("%s: got \"%s\", want \"%s\"", c->name, got, c->want);
}

/* ---- listing_format ----------------------------------------------------- */

/* The page for sample as a string. */
static char *format(const struct listing_page *p)
{
    struct buf b;

    buf_init(&b, 1 << 20);
    assert_int_equal(listing_format(p, sample, ARRAY_LEN(sample), &b), 0);
    assert_int_equal(buf_append(&b, "", 1), 0);
    char *s = strdup(buf_rptr(&b));
    assert_non_null(s);
    buf_free(&b);
    return s;
}

/* Upload, new folder and delete controls only where the user may write;
 * the script and the tar link everywhere. */
static void test_format_writable(void **state)
{
    struct listing_page ro = {.rel = "."}, rw = {.rel = ".", .writable = true};
    char *a = format(&ro), *b = format(&rw);

    for (const char *const *m = (const char *const[]){"id=\"files\"", "webkitdirectory",
                                                      "id=\"mkdir\"", "class=\"del\"",
                                                      "data-writable", NULL};
         *m != NULL; m++) {
        if (strstr(a, *m) != NULL)
            fail_msg("read-only page holds %s", *m);
        if (strstr(b, *m) == NULL)
            fail_msg("writable page lacks %s", *m);
    }
    assert_int_equal(count(b, "class=\"del\""), ARRAY_LEN(sample));
    assert_non_null(strstr(a, "href=\"?tar\""));
    assert_non_null(strstr(a, "href=\"?zip\""));
    assert_int_equal(count(a, "<script>"), 2);
    assert_null(strstr(a, "data-upload-part"));
    assert_non_null(strstr(b, "data-upload-part=\"0\""));
    free(a);
    free(b);
}

/* The column heads sort by their key, ascending; the current key's head
 * turns the order round and carries the arrow. */
static void test_format_sort_links(void **state)
{
    struct listing_page p = {.rel = "d", .order = {LISTING_BY_SIZE, false}};
    char *s = format(&p);

    assert_non_null(strstr(s, "href=\"?sort=name&amp;order=asc\">Name</a>"));
    assert_non_null(strstr(s, "href=\"?sort=size&amp;order=desc\">Size &#9650;</a>"));
    assert_non_null(strstr(s, "href=\"?sort=date&amp;order=asc\">Modified (UTC)</a>"));
    /* Links to directories keep the order; files do not need it. */
    assert_non_null(strstr(s, "<a href=\"./adir/?sort=size&amp;order=asc\">adir/</a>"));
    assert_non_null(strstr(s, "<a href=\"../?sort=size&amp;order=asc\">../</a>"));
    assert_non_null(strstr(s, "<a href=\"./a.txt\">a.txt</a>"));
    free(s);
    p.order.desc = true;
    s = format(&p);
    assert_non_null(strstr(s, "href=\"?sort=size&amp;order=asc\">Size &#9660;</a>"));
    free(s);
    p.order = (struct listing_order){LISTING_BY_NAME, false};
    s = format(&p);
    assert_non_null(strstr(s, "<a href=\"./adir/\">adir/</a>"));
    assert_non_null(strstr(s, "<a href=\"../\">../</a>"));
    free(s);
}

/* Breadcrumbs: every level escaped in text and encoded in its link; no
 * ".." row at the root. */
static void test_format_crumbs(void **state)
{
    struct listing_page p = {.rel = "a b/<x>&/\xc3\xa9"};
    char *s = format(&p);

    assert_non_null(strstr(s, "<nav><a class=\"crumb\" href=\"/\">root</a>"
                              " / <a class=\"crumb\" href=\"/a%20b/\">a b</a>"
                              " / <a class=\"crumb\" href=\"/a%20b/%3Cx%3E%26/\">&lt;x&gt;&amp;</a>"
                              " / <a class=\"crumb\" href=\"/a%20b/%3Cx%3E%26/%C3%A9/\">\xc3\xa9</a>"
                              " /</nav>"));
    assert_non_null(strstr(s, "<a href=\"../\">"));
    free(s);
    p.rel = ".";
    s = format(&p);
    assert_non_null(strstr(s, "<nav><a class=\"crumb\" href=\"/\">root</a> /</nav>"));
    assert_null(strstr(s, "href=\"../"));
    free(s);
}

/* Sizes the human way, dates in UTC with a machine-readable twin. */
static void test_format_sizes_dates(void **state)
{
    struct listing_page p = {.rel = "."};
    char *s = format(&p);

    assert_non_null(strstr(s, ">big</a></td><td class=\"s\" data-bytes=\"1073741824\">1.0 GiB</td>"
                              "<td class=\"d\"><time datetime=\"1970-01-01T00:25:00Z\">"
                              "1970-01-01 00:25</time></td>"));
    assert_non_null(strstr(s, ">adir/</a></td><td class=\"s\" data-bytes=\"4096\">-</td>"));
    assert_non_null(strstr(s, "<meta name=\"viewport\""));
    /* Nothing from outside: no src= and no URL with a scheme or host. */
    assert_null(strstr(s, "src="));
    assert_null(strstr(s, "//"));
    free(s);
}

/* The same input gives the same bytes, and every cap short of the page is
 * -ENOBUFS without writing past it. */
static void test_format_truncation(void **state)
{
    struct listing_page p = {.rel = "d", .writable = true};
    struct buf b;

    buf_init(&b, 1 << 20);
    assert_int_equal(listing_format(&p, sample, ARRAY_LEN(sample), &b), 0);
    size_t len = buf_len(&b);
    char *want = malloc(len);
    assert_non_null(want);
    memcpy(want, buf_rptr(&b), len);
    buf_free(&b);
    for (size_t cap = 0; cap <= len; cap += cap < 64 ? 1 : 97) {
        buf_init(&b, cap);
        int rc = listing_format(&p, sample, ARRAY_LEN(sample), &b);
        if (rc != (cap < len ? -ENOBUFS : 0))
            fail_msg("cap %zu of %zu: rc %d", cap, len, rc);
        assert_true(buf_len(&b) <= cap);
        buf_free(&b);
    }
    buf_init(&b, len);
    assert_int_equal(listing_format(&p, sample, ARRAY_LEN(sample), &b), 0);
    assert_int_equal(buf_len(&b), len);
    assert_memory_equal(buf_rptr(&b), want, len);
    buf_free(&b);
    free(want);
}

/* ---- listing_fill ------------------------------------------------------- */

/* The page listing_fill gives for cur, window bytes at a time, as a
 * string (*len bytes before its NUL). */
static char *fill_all(struct listing_cursor *cur, size_t window, size_t *len)
{
    struct buf all, win;
    char *mem = malloc(window);

    assert_non_null(mem);
    buf_init(&all, 8 << 20);
    for (size_t calls = 0; !listing_done(cur); calls++) {
        assert_true(calls < (8u << 20)); /* every call makes progress */
        buf_init_fixed(&win, mem, window);
        assert_int_equal(listing_fill(cur, &win), 0);
        assert_true(buf_len(&win) <= window);
        assert_int_equal(buf_append(&all, buf_rptr(&win), buf_len(&win)), 0);
    }
    free(mem);
    *len = buf_len(&all);
    assert_int_equal(buf_append(&all, "", 1), 0);
    char *s = malloc(*len + 1);
    assert_non_null(s);
    memcpy(s, buf_rptr(&all), *len + 1);
    buf_free(&all);
    return s;
}

/* listing_format of sample sorted by p->order, as a string. */
static char *format_sorted(const struct listing_page *p, size_t *len)
{
    struct listing_entry v[ARRAY_LEN(sample)];
    struct buf b;

    memcpy(v, sample, sizeof v);
    listing_sort(v, ARRAY_LEN(v), p->order);
    buf_init(&b, 1 << 20);
    assert_int_equal(listing_format(p, v, ARRAY_LEN(v), &b), 0);
    *len = buf_len(&b);
    assert_int_equal(buf_append(&b, "", 1), 0);
    char *s = strdup(buf_rptr(&b));
    assert_non_null(s);
    buf_free(&b);
    return s;
}

/* Every window size, from one byte to more than the page, gives exactly
 * the bytes of the whole-page formatter: read-only and writable, at the
 * root and deep below it, in every order. */
static void test_fill_every_window(void **state)
{
    static const char *const rels[] = {".", "d", "a b/<x>&/\xc3\xa9"};

    for (size_t r = 0; r < ARRAY_LEN(rels); r++) {
        for (int k = 0; k < 6; k++) {
            struct listing_page p = {.rel = rels[r],
                                     .writable = (k & 1) != 0,
                                     .order = {(enum listing_key)(k % 3), k >= 3}};
            struct listing_entry v[ARRAY_LEN(sample)];
            struct listing_snap *snap = NULL;
            size_t want_len, got_len;
            char *want = format_sorted(&p, &want_len);

            memcpy(v, sample, sizeof v);
            assert_int_equal(listing_snap_make(v, ARRAY_LEN(v), p.order, &snap), 0);
            /* Every size up to a few rows, then a spread up past the page. */
            for (size_t w = 1; w <= want_len + 1; w += w < 700 ? 1 : 331) {
                struct listing_cursor cur;
                assert_int_equal(listing_cursor_init(&cur, &p, snap, -1, -1), 0);
                char *got = fill_all(&cur, w, &got_len);
                listing_cursor_free(&cur);
                if (got_len != want_len || memcmp(got, want, want_len) != 0)
                    fail_msg("rel %s, order %d, window %zu: the pages differ", rels[r], k, w);
                free(got);
            }
            listing_snap_put(&snap);
            assert_null(snap);
            free(want);
        }
    }
}

/* keep is asked once per row, as the row is made, with the path beneath
 * the root; what it refuses is left out. */
struct keep_log {
    size_t calls;
    char seen[16][64];
};

static bool keep_no_b(void *arg, const char *listed, const char *real)
{
    struct keep_log *l = arg;

    assert_string_equal(listed, real); /* no directory: the listed path stands for it */
    if (l->calls < ARRAY_LEN(l->seen))
        snprintf(l->seen[l->calls], sizeof l->seen[0], "%s", real);
    l->calls++;
    return strcmp(real, "d/b.txt") != 0;
}

static void test_fill_keep(void **state)
{
    struct listing_page p = {.rel = "d"};
    struct listing_entry v[ARRAY_LEN(sample)];
    struct listing_snap *snap = NULL;
    struct listing_cursor cur;
    struct keep_log log = {0};
    size_t len;

    memcpy(v, sample, sizeof v);
    assert_int_equal(listing_snap_make(v, ARRAY_LEN(v), p.order, &snap), 0);
    p.keep = keep_no_b;
    p.keep_arg = &log;
    assert_int_equal(listing_cursor_init(&cur, &p, snap, -1, -1), 0);
    listing_snap_put(&snap);
    char *page = fill_all(&cur, 100000, &len);
    listing_cursor_free(&cur);
    assert_int_equal(log.calls, ARRAY_LEN(sample));
    assert_string_equal(log.seen[0], "d/adir");
    assert_null(strstr(page, ">b.txt</a>"));
    assert_non_null(strstr(page, ">a.txt</a>"));
    assert_non_null(strstr(page, "</html>\n"));
    free(page);
}

/* ---- the JSON listing --------------------------------------------------- */

struct json_seen {
    char text[1024];
    size_t n;
};

static int json_note(void *arg, const struct json_entry *e)
{
    struct json_seen *s = arg;
    size_t k = strlen(s->text);

    snprintf(s->text + k, sizeof s->text - k, "%s%s:%s:%llu:%lld", s->n > 0 ? " " : "", e->href,
             e->dir ? "dir" : "file", (unsigned long long)e->size, (long long)e->mtime);
    s->n++;
    return 0;
}

/* The entries a JSON listing gives, parsed strictly (json_listing_parse). */
static void json_entries(const char *doc, size_t len, struct json_seen *s)
{
    char scratch[1024];

    memset(s, 0, sizeof *s);
    assert_int_equal(json_listing_parse(doc, len, scratch, sizeof scratch, json_note, s), 0);
}

/* The JSON form, byte for byte, with names that need escaping. */
static void test_json_format(void **state)
{
    static const struct listing_entry v[] = {
        {"sub", true, 4096, 7, false},
        {"a\"b\x01\xff\xc3\xa9", false, 12, 1700000000, false},
    };
    struct listing_page p = {.rel = "d/e\"", .json = true};
    struct buf b;

    (void)state;
    buf_init(&b, 1 << 16);
    assert_int_equal(listing_format(&p, v, ARRAY_LEN(v), &b), 0);
    assert_int_equal(buf_append(&b, "", 1), 0);
    assert_string_equal(buf_rptr(&b),
                        "{\"path\":\"/d/e\\\"/\",\"entries\":[\n"
                        "{\"name\":\"sub\",\"href\":\"sub/\",\"type\":\"dir\",\"size\":0,"
                        "\"mtime\":7},\n"
                        "{\"name\":\"a\\\"b\\u0001\\ufffd\xc3\xa9\",\"href\":\"a%22b%01%FF%C3%A9\","
                        "\"type\":\"file\",\"size\":12,\"mtime\":1700000000}\n]}\n");
    buf_free(&b);
    buf_init(&b, 1 << 16);
    p.rel = ".";
    assert_int_equal(listing_format(&p, v, 0, &b), 0);
    assert_int_equal(buf_append(&b, "", 1), 0);
    assert_string_equal(buf_rptr(&b), "{\"path\":\"/\",\"entries\":[\n\n]}\n");
    buf_free(&b);
}

/* As test_fill_every_window, for the JSON form; and each is strict JSON
 * with the sample's entries in the page's order. */
static void test_json_every_window(void **state)
{
    static const char *const rels[] = {".", "a b/<x>&/\xc3\xa9"};

    (void)state;
    for (size_t r = 0; r < ARRAY_LEN(rels); r++) {
        for (int k = 0; k < 6; k++) {
            struct listing_page p = {
                .rel = rels[r], .json = true, .order = {(enum listing_key)(k % 3), k >= 3}};
            struct listing_entry v[ARRAY_LEN(sample)];
            struct listing_snap *snap = NULL;
            struct json_seen seen;
            size_t want_len, got_len;
            char *want = format_sorted(&p, &want_len);

            json_entries(want, want_len, &seen);
            assert_int_equal(seen.n, ARRAY_LEN(sample));
            memcpy(v, sample, sizeof v);
            assert_int_equal(listing_snap_make(v, ARRAY_LEN(v), p.order, &snap), 0);
            for (size_t w = 1; w <= want_len + 1; w++) {
                struct listing_cursor cur;
                assert_int_equal(listing_cursor_init(&cur, &p, snap, -1, -1), 0);
                char *got = fill_all(&cur, w, &got_len);
                listing_cursor_free(&cur);
                if (got_len != want_len || memcmp(got, want, want_len) != 0)
                    fail_msg("json rel %s, order %d, window %zu: differ", rels[r], k, w);
                free(got);
            }
            listing_snap_put(&snap);
            free(want);
        }
    }
    /* Name ascending: folders first. */
    struct listing_page p = {.rel = ".", .json = true};
    struct json_seen seen;
    size_t len;
    char *doc = format_sorted(&p, &len);
    json_entries(doc, len, &seen);
    assert_string_equal(seen.text,
                        "adir/:dir:0:900 zdir/:dir:0:500 a.txt:file:300:1000 "
                        "b.txt:file:300:2000 big:file:1073741824:1500 c.bin:file:10:3000");
    free(doc);
}

static bool keep_not_first_nor_b(void *arg, const char *listed, const char *real)
{
    (void)arg;
    return strcmp(real, "d/adir") != 0 && strcmp(real, "d/b.txt") != 0;
}

/* keep applies to the JSON form: what it refuses is not there, and the
 * document stays strict JSON when the first row is the one refused (no
 * comma before the first row shown), at every window size. */
static void test_json_keep(void **state)
{
    struct listing_page p = {.rel = "d", .json = true, .keep = keep_not_first_nor_b};
    struct listing_entry v[ARRAY_LEN(sample)];
    struct listing_snap *snap = NULL;
    char *first = NULL;
    size_t first_len = 0;

    (void)state;
    memcpy(v, sample, sizeof v);
    assert_int_equal(listing_snap_make(v, ARRAY_LEN(v), p.order, &snap), 0);
    for (size_t w = 1; w < 1000; w++) {
        struct listing_cursor cur;
        struct json_seen seen;
        size_t len;
        assert_int_equal(listing_cursor_init(&cur, &p, snap, -1, -1), 0);
        char *doc = fill_all(&cur, w, &len);
        listing_cursor_free(&cur);
        json_entries(doc, len, &seen);
        assert_string_equal(seen.text, "zdir/:dir:0:500 a.txt:file:300:1000 "
                                       "big:file:1073741824:1500 c.bin:file:10:3000");
        if (first == NULL) {
            first = doc;
            first_len = len;
            continue;
        }
        assert_int_equal(len, first_len);
        assert_memory_equal(doc, first, len);
        free(doc);
    }
    free(first);
    listing_snap_put(&snap);
}

static bool keep_none(void *arg, const char *name, const char *real)
{
    (*(size_t *)arg)++;
    return false;
}

/* A user who may see none of many entries: each call looks at a bounded
 * number of rows (and may give nothing), and the page still ends whole. */
static void test_fill_bounded_work(void **state)
{
    enum { N = 20000 };
    struct listing_entry *v = calloc(N, sizeof *v);
    char(*names)[16] = calloc(N, sizeof *names);
    struct listing_snap *snap = NULL;
    struct listing_cursor cur;
    size_t asked = 0, calls = 0;
    char mem[4096];

    assert_non_null(v);
    assert_non_null(names);
    for (size_t i = 0; i < N; i++) {
        snprintf(names[i], sizeof names[i], "f%06zu", i);
        v[i] = (struct listing_entry){.name = names[i], .size = i};
    }
    assert_int_equal(listing_snap_make(v, N, (struct listing_order){LISTING_BY_NAME, false}, &snap),
                     0);
    struct listing_page p = {.rel = ".", .keep = keep_none, .keep_arg = &asked};
    assert_int_equal(listing_cursor_init(&cur, &p, snap, -1, -1), 0);
    listing_snap_put(&snap);
    struct buf page;
    buf_init(&page, 1 << 20);
    while (!listing_done(&cur)) {
        struct buf w;
        size_t before = asked;
        buf_init_fixed(&w, mem, sizeof mem);
        assert_int_equal(listing_fill(&cur, &w), 0);
        assert_true(asked - before <= 4097);
        assert_int_equal(buf_append(&page, buf_rptr(&w), buf_len(&w)), 0);
        assert_true(++calls < 100);
    }
    listing_cursor_free(&cur);
    assert_int_equal(asked, N);
    assert_true(calls > N / 4097);
    assert_int_equal(buf_append(&page, "", 1), 0);
    assert_null(strstr(buf_rptr(&page), "f000"));
    assert_non_null(strstr(buf_rptr(&page), "<tbody>\n</tbody>\n</table>"));
    buf_free(&page);
    free(names);
    free(v);
}

/* Whether the fixture's root has been still for longer than the racy
 * window: sleeps that long first. */
static void let_settle(void)
{
    struct timespec t = {0, 250 * 1000 * 1000};
    nanosleep(&t, NULL);
}

/* Two responses for the same directory and order share one snapshot; each
 * cursor gives the whole page at its own pace; the cache forgets the
 * snapshot with its last holder, and a changed directory is read anew. */
static void test_snap_shared(void **state)
{
    struct fixture *f = *state;
    struct listing_cache cache = {0};
    struct listing_snap *a = NULL, *b = NULL, *c = NULL;
    struct listing_page p = {.rel = "."};
    struct listing_cursor ca, cb;
    char *want = build(f, ".", ".", false);
    size_t want_len = strlen(want);

    let_settle();
    assert_int_equal(listing_snap_get(&cache, f->rootfd, f->rootfd, ".", false, p.order, &a), 0);
    assert_int_equal(listing_snap_get(&cache, f->rootfd, f->rootfd, ".", false, p.order, &b), 0);
    assert_ptr_equal(a, b);
    /* Another order is another snapshot. */
    struct listing_order desc = {LISTING_BY_NAME, true};
    assert_int_equal(listing_snap_get(&cache, f->rootfd, f->rootfd, ".", false, desc, &c), 0);
    assert_ptr_not_equal(a, c);
    listing_snap_put(&c);
    assert_int_equal(listing_cursor_init(&ca, &p, a, f->rootfd, f->rootfd), 0);
    assert_int_equal(listing_cursor_init(&cb, &p, b, f->rootfd, f->rootfd), 0);
    listing_snap_put(&a);
    listing_snap_put(&b);
    /* Interleaved, at different window sizes. */
    struct buf pa, pb;
    char wa[7], wb[1000];
    buf_init(&pa, 1 << 20);
    buf_init(&pb, 1 << 20);
    while (!listing_done(&ca) || !listing_done(&cb)) {
        struct buf w;
        buf_init_fixed(&w, wa, sizeof wa);
        assert_int_equal(listing_fill(&ca, &w), 0);
        assert_int_equal(buf_append(&pa, buf_rptr(&w), buf_len(&w)), 0);
        buf_init_fixed(&w, wb, sizeof wb);
        assert_int_equal(listing_fill(&cb, &w), 0);
        assert_int_equal(buf_append(&pb, buf_rptr(&w), buf_len(&w)), 0);
    }
    assert_int_equal(buf_len(&pa), want_len);
    assert_int_equal(buf_len(&pb), want_len);
    assert_memory_equal(buf_rptr(&pa), want, want_len);
    assert_memory_equal(buf_rptr(&pb), want, want_len);
    buf_free(&pa);
    buf_free(&pb);
    assert_non_null(cache.live);
    listing_cursor_free(&ca);
    assert_non_null(cache.live);
    listing_cursor_free(&cb);
    assert_null(cache.live);
    /* A snapshot held across a change is not given for the new version. */
    assert_int_equal(listing_snap_get(&cache, f->rootfd, f->rootfd, ".", false, p.order, &a), 0);
    int fd = openat(f->rootfd, "new-file", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(listing_snap_get(&cache, f->rootfd, f->rootfd, ".", false, p.order, &b), 0);
    assert_ptr_not_equal(a, b);
    listing_snap_put(&a);
    listing_snap_put(&b);
    assert_null(cache.live);
    free(want);
}

/* A directory that changes while its page is being made: rows of entries
 * gone by then are left out, the rest show what they are now, and the
 * page stays whole and well-formed. */
static void test_fill_dir_changes(void **state)
{
    struct fixture *f = *state;
    struct listing_snap *snap = NULL;
    struct listing_page p = {.rel = "."};
    struct listing_cursor cur;
    struct row rows[64];
    bool parent;
    size_t len;

    assert_int_equal(listing_snap_get(NULL, f->rootfd, f->rootfd, ".", false, p.order, &snap), 0);
    assert_int_equal(listing_cursor_init(&cur, &p, snap, f->rootfd, f->rootfd), 0);
    listing_snap_put(&snap);
    /* The head first, then the directory changes under the rows. */
    char mem[64];
    struct buf w;
    buf_init_fixed(&w, mem, sizeof mem);
    assert_int_equal(listing_fill(&cur, &w), 0);
    assert_int_equal(unlinkat(f->rootfd, "x&y", 0), 0);
    assert_int_equal(unlinkat(f->rootfd, "zdir", AT_REMOVEDIR), 0);
    int fd = openat(f->rootfd, "size1536", O_WRONLY | O_APPEND | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "abc", 3), 3);
    close(fd);
    fd = openat(f->rootfd, "late", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    close(fd);
    char *rest = fill_all(&cur, 333, &len);
    listing_cursor_free(&cur);
    char *page = malloc(buf_len(&w) + len + 1);
    assert_non_null(page);
    memcpy(page, buf_rptr(&w), buf_len(&w));
    memcpy(page + buf_len(&w), rest, len + 1);
    check_tags(page);
    size_t n = read_hrefs(page, rows, ARRAY_LEN(rows), &parent);
    size_t listed = ARRAY_LEN(tree) - 2 /* hidden */ + (f->links_beneath ? 1 : 0);
    assert_int_equal(n, listed - 2);
    assert_null(strstr(page, "x&amp;y"));
    assert_null(strstr(page, "zdir"));
    assert_null(strstr(page, "late")); /* not in the snapshot */
    assert_non_null(strstr(page, "data-bytes=\"1539\""));
    assert_int_equal(count(page, "<tr>"), n + 1);
    assert_int_equal(count(page, "</tr>"), n + 1);
    const char *end = "</tbody>\n</table>\n<script>";
    assert_int_equal(count(page, end), 1);
    assert_int_equal(strcmp(page + strlen(page) - 15, "</body></html>\n"), 0);
    free(rest);
    free(page);
}

/* The policy allows the page's own scripts and style by their hashes, and
 * nothing from elsewhere: each inline element's hash is in its directive,
 * and the directive names no more sources than the page has elements. */
static void test_csp(void **state)
{
    struct listing_page p = {.rel = "."};
    char csp[384], *page = format(&p);
    unsigned char md[32];
    unsigned int mdlen;
    char b64[64], want[80];

    assert_int_equal(listing_csp(csp, sizeof csp), 0);
    assert_non_null(strstr(csp, "default-src 'none'"));
    assert_non_null(strstr(csp, "connect-src 'self'"));
    assert_null(strstr(csp, "unsafe"));
    const struct {
        const char *open, *close, *directive;
        size_t n;
    } parts[] = {{"<script>", "</script>", "script-src", 2}, {"<style>", "</style>", "style-src", 1}};
    for (size_t i = 0; i < ARRAY_LEN(parts); i++) {
        const char *at = page;
        size_t seen = 0;
        for (;;) {
            const char *a = strstr(at, parts[i].open);
            if (a == NULL)
                break;
            const char *z = strstr(a, parts[i].close);
            assert_non_null(z);
            a += strlen(parts[i].open);
            assert_int_equal(EVP_Digest(a, (size_t)(z - a), md, &mdlen, EVP_sha256(), NULL), 1);
            EVP_EncodeBlock((unsigned char *)b64, md, (int)mdlen);
            snprintf(want, sizeof want, "'sha256-%s'", b64);
            const char *d = strstr(csp, parts[i].directive), *end = d ? strchr(d, ';') : NULL;
            const char *hit = strstr(csp, want);
            if (d == NULL || end == NULL || hit == NULL || hit < d || hit > end)
                fail_msg("\"%s\" lacks %s in %s", csp, want, parts[i].directive);
            seen++;
            at = z;
        }
        assert_int_equal(seen, parts[i].n);
        const char *d = strstr(csp, parts[i].directive), *end = strchr(d, ';');
        size_t sources = 0;
        for (const char *s = d; s < end; s++)
            sources += strncmp(s, "'sha256-", 8) == 0;
        assert_int_equal(sources, parts[i].n);
    }
    char small[32];
    assert_int_equal(listing_csp(small, sizeof small), -ENOBUFS);
    free(page);
}

int main(void)
{
    static struct unit_list l;

    UNIT_ADD_ROWS(&l, size_cases, test_size);
    unit_add(&l, "size into a short buffer", test_size_short_buffer, NULL);
    UNIT_ADD_ROWS(&l, order_cases, test_order);
    UNIT_ADD_ROWS(&l, sort_cases, test_sort);
    unit_add(&l, "format: controls only where writable", test_format_writable, NULL);
    unit_add(&l, "format: sort links", test_format_sort_links, NULL);
    unit_add(&l, "format: breadcrumbs", test_format_crumbs, NULL);
    unit_add(&l, "format: sizes and dates", test_format_sizes_dates, NULL);
    unit_add(&l, "format: every cap, same bytes", test_format_truncation, NULL);
    unit_add(&l, "fill: every window gives the whole page's bytes", test_fill_every_window, NULL);
    unit_add(&l, "fill: keep asked per row, as it is made", test_fill_keep, NULL);
    unit_add(&l, "fill: bounded work per call when keep refuses all", test_fill_bounded_work, NULL);
    unit_add_fixture(&l, "fill: one snapshot shared by two cursors", test_snap_shared, make_tree,
                     remove_tree, NULL);
    unit_add_fixture(&l, "fill: the directory changes while the page is made",
                     test_fill_dir_changes, make_tree, remove_tree, NULL);
    unit_add(&l, "csp: hashes of the page's script and style", test_csp, NULL);
    unit_add(&l, "json: the form, byte for byte, hostile names escaped", test_json_format, NULL);
    unit_add(&l, "json: every window gives the same strict JSON", test_json_every_window, NULL);
    unit_add(&l, "json: keep applies, the first row refused", test_json_keep, NULL);
    unit_add_fixture(&l, "listing of the root with hostile names", test_root_listing, make_tree,
                     remove_tree, NULL);
    unit_add_fixture(&l, "listing with hidden names", test_hidden_listing, make_tree, remove_tree,
                     NULL);
    unit_add_fixture(&l, "listing of a subdirectory", test_sub_listing, make_tree, remove_tree,
                     NULL);
    unit_add_fixture(&l, "listing past the buffer cap", test_nobufs, make_tree, remove_tree, NULL);
    unit_add_fixture(&l, "listing: keep gets real paths", test_keep_real_paths, make_tree,
                     remove_tree, NULL);
    unit_add_fixture(&l, "listing of an empty directory", test_empty, make_empty, remove_tree,
                     NULL);
    return unit_run("listing", &l);
}
