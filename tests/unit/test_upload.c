/* Unit tests for serve/upload: PUT bodies written to an unnamed temporary file
 * and renamed into place, in a temporary directory tree made for each test.
 *
 * The tree is a root (what `ferry serve` would serve) and, beside it, an
 * "outside" directory that nothing may touch. Each test ends by undoing the
 * change it expects and comparing the whole tree with the snapshot taken
 * when it was made: a leftover temporary file, or a byte written outside the
 * root, makes the test fail. */
#include "unit.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "serve/upload.h"

#define SNAP_MAX 65536

struct fixture {
    char base[64];    /* /tmp/ferry-upload-XXXXXX */
    char root[96];    /* base/root */
    char outside[96]; /* base/outside */
    int rootfd;
    char snap[SNAP_MAX]; /* the tree as it was made */
};

static struct fixture fixture;

/* ---- rename(2), interposed ------------------------------------------------ */

/* When set, the next renameat or renameat2 first writes a file of that name
 * in the root, as another upload's commit landing just before ours would,
 * then renames as asked. */
static const char *plant_at_rename;

static void plant(void)
{
    const char *name = plant_at_rename;

    plant_at_rename = NULL;
    if (name != NULL)
        unit_put_file(fixture.root, name, "the other upload\n");
}

int renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath,
              unsigned int flags)
{
    plant();
    return (int)syscall(SYS_renameat2, olddirfd, oldpath, newdirfd, newpath, flags);
}

int renameat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath)
{
    plant();
    return (int)syscall(SYS_renameat2, olddirfd, oldpath, newdirfd, newpath, 0);
}

/* ---- sync_file_range(2), interposed ------------------------------------- */

/* The ranges whose writeback the upload started, in order. */
static struct {
    off_t off[64], len[64];
    size_t n;
} behind;

int sync_file_range(int fd, off64_t offset, off64_t nbytes, unsigned int flags)
{
    if (behind.n < ARRAY_LEN(behind.off) && flags == SYNC_FILE_RANGE_WRITE) {
        behind.off[behind.n] = offset;
        behind.len[behind.n] = nbytes;
        behind.n++;
    }
    return (int)syscall(SYS_sync_file_range, fd, offset, nbytes, flags);
}

/* ---- snapshots ---------------------------------------------------------- */

/* nftw has no user argument: the walk in progress collects here. */
static struct {
    size_t base_len;
    char *lines[256];
    size_t n;
} walk;

static int snap_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    char line[1024], target[256];
    const char *rel = path + walk.base_len;
    int n;

    if (S_ISREG(st->st_mode)) {
        char data[256] = "";
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        ssize_t got = fd >= 0 ? read(fd, data, sizeof data - 1) : -1;
        if (fd >= 0)
            close(fd);
        data[got > 0 ? got : 0] = '\0';
        n = snprintf(line, sizeof line, "%s file %lld [%s]", rel, (long long)st->st_size, data);
    } else if (S_ISDIR(st->st_mode)) {
        n = snprintf(line, sizeof line, "%s dir", rel);
    } else if (S_ISLNK(st->st_mode)) {
        ssize_t len = readlink(path, target, sizeof target - 1);
        target[len > 0 ? len : 0] = '\0';
        n = snprintf(line, sizeof line, "%s link -> %s", rel, target);
    } else {
        n = snprintf(line, sizeof line, "%s other", rel);
    }
    if (n < 0 || walk.n == ARRAY_LEN(walk.lines))
        return -1;
    walk.lines[walk.n] = strdup(line);
    return walk.lines[walk.n++] == NULL ? -1 : 0;
}

static int line_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Writes every entry beneath the fixture's base, sorted, one a line. */
static void snapshot(const struct fixture *f, char *out, size_t outsz)
{
    size_t len = 0;

    walk.base_len = strlen(f->base);
    walk.n = 0;
    assert_int_equal(nftw(f->base, snap_one, 16, FTW_PHYS), 0);
    qsort(walk.lines, walk.n, sizeof walk.lines[0], line_cmp);
    out[0] = '\0';
    for (size_t i = 0; i < walk.n; i++) {
        int w = snprintf(out + len, outsz - len, "%s\n", walk.lines[i]);
        assert_true(w > 0 && (size_t)w < outsz - len);
        len += (size_t)w;
        free(walk.lines[i]);
    }
}

/* Fails unless the tree is exactly as the fixture made it. */
static void assert_tree_as_made(const struct fixture *f)
{
    static char now[SNAP_MAX];

    snapshot(f, now, sizeof now);
    assert_string_equal(now, f->snap);
}

/* ---- the tree ----------------------------------------------------------- */

static void put_link(const struct fixture *f, const char *target, const char *name)
{
    assert_int_equal(symlinkat(target, f->rootfd, name), 0);
}

/* Setup (tests find it in the global fixture; *state stays the row):
 *   root/existing.txt        "old contents\n"
 *   root/sub/                root/dir/
 *   root/in-link    -> sub   (inside)
 *   root/dir-link   -> dir   (inside)
 *   root/out-rel    -> ../outside              root/out-abs -> base/outside
 *   root/victim-rel -> ../outside/victim.txt   root/victim-abs -> base/outside/victim.txt
 *   root/dangling   -> ../outside/created-through-a-link
 *   outside/victim.txt       "precious\n" */
static int make_tree(void **state)
{
    struct fixture *f = &fixture;
    char target[192];

    strcpy(f->base, "/tmp/ferry-upload-XXXXXX");
    if (mkdtemp(f->base) == NULL)
        return -1;
    snprintf(f->root, sizeof f->root, "%.63s/root", f->base);
    snprintf(f->outside, sizeof f->outside, "%.63s/outside", f->base);
    if (mkdir(f->root, 0755) < 0 || mkdir(f->outside, 0755) < 0)
        return -1;
    f->rootfd = open(f->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (f->rootfd < 0)
        return -1;
    unit_put_file(f->root, "existing.txt", "old contents\n");
    unit_put_file(f->outside, "victim.txt", "precious\n");
    assert_int_equal(mkdirat(f->rootfd, "sub", 0755), 0);
    assert_int_equal(mkdirat(f->rootfd, "dir", 0755), 0);
    put_link(f, "sub", "in-link");
    put_link(f, "dir", "dir-link");
    put_link(f, "../outside", "out-rel");
    put_link(f, f->outside, "out-abs");
    put_link(f, "../outside/victim.txt", "victim-rel");
    snprintf(target, sizeof target, "%.95s/victim.txt", f->outside);
    put_link(f, target, "victim-abs");
    put_link(f, "../outside/created-through-a-link", "dangling");
    snapshot(f, f->snap, sizeof f->snap);
    return 0;
}

static int remove_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    return remove(path);
}

/* Teardown: removes the whole temporary tree. */
static int remove_tree(void **state)
{
    struct fixture *f = &fixture;

    close(f->rootfd);
    return nftw(f->base, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- helpers ------------------------------------------------------------ */

/* The whole content of rel beneath the root, not following a final link;
 * "(missing)" or "(not a file)" otherwise. */
static const char *content(const struct fixture *f, const char *rel)
{
    static char data[4096];
    struct stat st;

    if (fstatat(f->rootfd, rel, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return "(missing)";
    if (!S_ISREG(st.st_mode))
        return "(not a file)";
    int fd = openat(f->rootfd, rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    assert_true(fd >= 0);
    ssize_t n = read(fd, data, sizeof data - 1);
    close(fd);
    assert_true(n >= 0);
    data[n] = '\0';
    return data;
}

/* begin, one write per piece, commit. Returns upload_begin's error, or
 * upload_commit's. */
static int upload(struct fixture *f, const char *rel, const char *const *pieces, size_t npieces,
                  bool *created)
{
    struct upload *u = NULL;
    uint64_t total = 0;
    int rc = upload_begin(f->rootfd, rel, &u);

    if (rc < 0)
        return rc;
    assert_non_null(u);
    for (size_t i = 0; i < npieces; i++) {
        assert_int_equal(upload_write(u, pieces[i], strlen(pieces[i])), 0);
        total += strlen(pieces[i]);
        assert_int_equal(upload_size(u), total);
    }
    return upload_commit(u, created);
}

static int upload1(struct fixture *f, const char *rel, const char *data, bool *created)
{
    return upload(f, rel, &data, 1, created);
}

/* ---- commit ------------------------------------------------------------- */

static void test_create(void **state)
{
    struct fixture *f = &fixture;
    static const char *const pieces[] = {"hello, ", "", "world\n", "\0after a NUL"};
    bool created = false;

    assert_int_equal(upload(f, "new.txt", pieces, ARRAY_LEN(pieces), &created), 0);
    assert_true(created);
    assert_string_equal(content(f, "new.txt"), "hello, world\n");
    assert_int_equal(unlinkat(f->rootfd, "new.txt", 0), 0);
    assert_tree_as_made(f); /* no temporary file left, nothing else touched */
}

static void test_create_in_subdirectory(void **state)
{
    struct fixture *f = &fixture;
    bool created = false;

    assert_int_equal(upload1(f, "sub/new.txt", "nested", &created), 0);
    assert_true(created);
    assert_string_equal(content(f, "sub/new.txt"), "nested");
    assert_int_equal(unlinkat(f->rootfd, "sub/new.txt", 0), 0);
    assert_tree_as_made(f);
}

static void test_create_empty(void **state)
{
    struct fixture *f = &fixture;
    bool created = false;

    assert_int_equal(upload(f, "empty", NULL, 0, &created), 0);
    assert_true(created);
    assert_string_equal(content(f, "empty"), "");
    assert_int_equal(unlinkat(f->rootfd, "empty", 0), 0);
    assert_tree_as_made(f);
}

static void test_replace(void **state)
{
    struct fixture *f = &fixture;
    bool created = true;
    struct stat before, after;

    assert_int_equal(fstatat(f->rootfd, "existing.txt", &before, 0), 0);
    assert_int_equal(upload1(f, "existing.txt", "new", &created), 0);
    assert_false(created);
    assert_string_equal(content(f, "existing.txt"), "new");
    assert_int_equal(fstatat(f->rootfd, "existing.txt", &after, 0), 0);
    assert_true(before.st_ino != after.st_ino); /* renamed over, not rewritten in place */
    unit_put_file(f->root, "existing.txt", "old contents\n");
    assert_tree_as_made(f);
}

/* Another upload's commit lands between this one's start and its rename:
 * this one replaced a file, so it did not create it (both were told 201). */
static void test_commit_overtaken_did_not_create(void **state)
{
    struct fixture *f = &fixture;
    bool created = true;

    plant_at_rename = "new.txt";
    assert_int_equal(upload1(f, "new.txt", "this upload", &created), 0);
    assert_null(plant_at_rename);
    assert_false(created);
    assert_string_equal(content(f, "new.txt"), "this upload");
    assert_int_equal(unlinkat(f->rootfd, "new.txt", 0), 0);
    assert_tree_as_made(f);
}

/* A reader holding the old file keeps reading the old bytes. */
static void test_replace_keeps_open_readers(void **state)
{
    struct fixture *f = &fixture;
    char data[64] = "";
    bool created;
    int fd = openat(f->rootfd, "existing.txt", O_RDONLY | O_CLOEXEC);

    assert_true(fd >= 0);
    assert_int_equal(upload1(f, "existing.txt", "replaced", &created), 0);
    assert_int_equal(pread(fd, data, sizeof data - 1, 0), 13);
    assert_string_equal(data, "old contents\n");
    close(fd);
    assert_string_equal(content(f, "existing.txt"), "replaced");
}

/* Nothing is visible under the target's name before the commit. */
static void test_invisible_until_commit(void **state)
{
    struct fixture *f = &fixture;
    struct upload *u = NULL;
    bool created;

    assert_int_equal(upload_begin(f->rootfd, "existing.txt", &u), 0);
    assert_int_equal(upload_write(u, "partial", 7), 0);
    assert_string_equal(content(f, "existing.txt"), "old contents\n");
    assert_tree_as_made(f); /* O_TMPFILE: no name at all yet */
    assert_int_equal(upload_commit(u, &created), 0);
    assert_string_equal(content(f, "existing.txt"), "partial");
}

/* ---- upload_size -------------------------------------------------------- */

static void test_size_counts(void **state)
{
    struct fixture *f = &fixture;
    static char chunk[65536];
    struct upload *u = NULL;
    bool created;

    assert_int_equal(upload_begin(f->rootfd, "big", &u), 0);
    assert_int_equal(upload_size(u), 0);
    assert_int_equal(upload_write(u, chunk, 0), 0);
    assert_int_equal(upload_size(u), 0);
    memset(chunk, 'x', sizeof chunk);
    for (int i = 0; i < 32; i++) {
        assert_int_equal(upload_write(u, chunk, sizeof chunk - (size_t)i), 0);
        assert_int_equal(upload_size(u),
                         (uint64_t)(i + 1) * sizeof chunk - (uint64_t)(i * (i + 1) / 2));
    }
    assert_int_equal(upload_write(u, "!", 1), 0);
    uint64_t want = 32u * sizeof chunk - 31u * 32u / 2 + 1;
    assert_int_equal(upload_size(u), want);
    assert_int_equal(upload_commit(u, &created), 0);
    struct stat st;
    assert_int_equal(fstatat(f->rootfd, "big", &st, 0), 0);
    assert_int_equal((uint64_t)st.st_size, want);
}

/* ---- abort -------------------------------------------------------------- */

static void test_abort_new(void **state)
{
    struct fixture *f = &fixture;
    struct upload *u = NULL;

    assert_int_equal(upload_begin(f->rootfd, "new.txt", &u), 0);
    assert_int_equal(upload_write(u, "never seen", 10), 0);
    upload_abort(u);
    assert_tree_as_made(f);
}

static void test_abort_existing(void **state)
{
    struct fixture *f = &fixture;
    struct upload *u = NULL;

    assert_int_equal(upload_begin(f->rootfd, "existing.txt", &u), 0);
    assert_int_equal(upload_write(u, "never seen", 10), 0);
    upload_abort(u);
    assert_tree_as_made(f);
}

static void test_abort_unwritten(void **state)
{
    struct fixture *f = &fixture;
    struct upload *u = NULL;

    assert_int_equal(upload_begin(f->rootfd, "sub/new.txt", &u), 0);
    upload_abort(u);
    assert_tree_as_made(f);
}

/* ---- refusals ----------------------------------------------------------- */

struct refusal {
    const char *name;
    const char *rel;
    int err, err2; /* either is right; err2 0 when only err is */
};

/* clang-format off */
static const struct refusal refusals[] = {
    {"refused: missing parent", "nope/x", -ENOENT, 0},
    {"refused: missing grandparent", "nope/deeper/x", -ENOENT, 0},
    {"refused: parent is a file", "existing.txt/x", -ENOTDIR, 0},
    {"refused: parent is a link to a file outside", "victim-rel/x", -EXDEV, -ELOOP},
    {"refused: directory target", "dir", -EISDIR, 0},
    {"refused: the root", ".", -EISDIR, 0},
    {"refused: trailing slash", "sub/", -EISDIR, 0},
    {"refused: .. as the name", "sub/..", -EISDIR, 0},
    {"refused: relative parent link leading outside", "out-rel/x", -EXDEV, -ELOOP},
    {"refused: relative parent link, deeper", "out-rel/victim.txt", -EXDEV, -ELOOP},
    {"refused: absolute parent link leading outside", "out-abs/x", -EXDEV, -ELOOP},
    {"refused: .. out of the root", "../outside/x", -EXDEV, 0},
    {"refused: absolute path", "/tmp/x", -EXDEV, -ENOENT},
};
/* clang-format on */

static void test_refusal(void **state)
{
    const struct refusal *c = *state;
    struct fixture *f = &fixture;
    struct upload *u = NULL;
    int rc = upload_begin(f->rootfd, c->rel, &u);

    if (rc != c->err && (c->err2 == 0 || rc != c->err2))
        fail_msg("%s: %d, want %d or %d", c->name, rc, c->err, c->err2);
    assert_tree_as_made(f);
}

/* A name longer than the file system takes (NAME_MAX, 255 on Linux) is
 * refused by upload_begin, before any body is received: it used to be
 * accepted, the whole body written to a temporary file, and the commit
 * then failed in rename. */
static void test_name_too_long(void **state)
{
    struct fixture *f = &fixture;
    char rel[300];
    struct upload *u = NULL;

    strcpy(rel, "sub/");
    memset(rel + 4, 'a', 256);
    rel[4 + 256] = '\0';
    assert_int_equal(upload_begin(f->rootfd, rel, &u), -ENAMETOOLONG);
    assert_tree_as_made(f);
    rel[4 + 255] = '\0'; /* NAME_MAX itself is fine */
    bool created = false;
    assert_int_equal(upload1(f, rel, "longest name", &created), 0);
    assert_true(created);
    assert_string_equal(content(f, rel), "longest name");
}

/* ---- links -------------------------------------------------------------- */

/* A parent that is a link within the root is followed. */
static void test_parent_link_inside(void **state)
{
    struct fixture *f = &fixture;
    bool created = false;

    assert_int_equal(upload1(f, "in-link/through.txt", "via a link", &created), 0);
    assert_true(created);
    assert_string_equal(content(f, "sub/through.txt"), "via a link");
    assert_int_equal(unlinkat(f->rootfd, "sub/through.txt", 0), 0);
    assert_tree_as_made(f);
}

struct link_target {
    const char *name;
    const char *link, *target; /* the link and what it pointed to */
};

static const struct link_target link_targets[] = {
    {"link target: relative link to a file outside", "victim-rel", "../outside/victim.txt"},
    {"link target: absolute link to a file outside", "victim-abs", NULL /* base/outside/... */},
    {"link target: dangling link leading outside", "dangling", "../outside/created-through-a-link"},
    {"link target: link to a directory inside", "dir-link", "dir"},
    {"link target: link to a directory outside", "out-rel", "../outside"},
};

/* A target that is a symbolic link: the upload replaces the link itself
 * with a regular file (rename does not follow a final link). Nothing is
 * written through it, so the file it pointed to, inside or outside the root,
 * is untouched, and `created` is false (the name existed). */
static void test_link_target(void **state)
{
    const struct link_target *c = *state;
    struct fixture *f = &fixture;
    char target[192];
    bool created = true;

    assert_int_equal(upload1(f, c->link, "replaced the link", &created), 0);
    assert_false(created);
    assert_string_equal(content(f, c->link), "replaced the link");
    /* Put the link back: the rest of the tree, outside included, must be
     * as it was. */
    assert_int_equal(unlinkat(f->rootfd, c->link, 0), 0);
    if (c->target != NULL)
        snprintf(target, sizeof target, "%s", c->target);
    else
        snprintf(target, sizeof target, "%.95s/victim.txt", f->outside);
    put_link(f, target, c->link);
    assert_tree_as_made(f);
}

/* ---- commit failures ---------------------------------------------------- */

/* The target became a directory while the body was arriving: the commit
 * fails and leaves no temporary file behind. */
static void test_commit_onto_new_directory(void **state)
{
    struct fixture *f = &fixture;
    struct upload *u = NULL;
    bool created;

    assert_int_equal(upload_begin(f->rootfd, "racy", &u), 0);
    assert_int_equal(upload_write(u, "body", 4), 0);
    assert_int_equal(mkdirat(f->rootfd, "racy", 0755), 0);
    int rc = upload_commit(u, &created);
    if (rc != -EISDIR && rc != -ENOTEMPTY && rc != -EEXIST)
        fail_msg("commit onto a directory: %d", rc);
    assert_int_equal(unlinkat(f->rootfd, "racy", AT_REMOVEDIR), 0);
    assert_tree_as_made(f);
}

/* The target's directory was removed while the body was arriving. */
static void test_commit_into_removed_directory(void **state)
{
    struct fixture *f = &fixture;
    struct upload *u = NULL;
    bool created;

    assert_int_equal(mkdirat(f->rootfd, "gone", 0755), 0);
    assert_int_equal(upload_begin(f->rootfd, "gone/x", &u), 0);
    assert_int_equal(upload_write(u, "body", 4), 0);
    assert_int_equal(unlinkat(f->rootfd, "gone", AT_REMOVEDIR), 0);
    assert_int_equal(upload_commit(u, &created), -ENOENT);
    assert_tree_as_made(f);
}

/* A resumable upload's data starts its writeback every 4 MiB as it is
 * written (its part is synced before the offset is acknowledged, and that
 * sync then waits for the last few MiB only), from where it was cut back
 * after a refused part; a plain PUT's does not (one sync at its commit).
 * The bytes are the ones written. */
static void test_write_behind(void **state)
{
    struct fixture *f = &fixture;
    enum { MIB = 1 << 20 };
    static char chunk[MIB];
    struct upload *u = NULL;
    bool created = false;

    memset(chunk, 'a', sizeof chunk);
    behind.n = 0;
    assert_int_equal(upload_begin(f->rootfd, "plain.bin", &u), 0);
    for (int i = 0; i < 9; i++)
        assert_int_equal(upload_write(u, chunk, MIB), 0);
    upload_abort(u);
    assert_int_equal(behind.n, 0);

    assert_int_equal(upload_open_partial(f->rootfd, "big.bin", ".part", true, &u), 0);
    for (int i = 0; i < 9; i++)
        assert_int_equal(upload_write(u, chunk, MIB), 0);
    assert_int_equal(behind.n, 2);
    assert_int_equal(behind.off[0], 0);
    assert_int_equal(behind.len[0], 4 * MIB);
    assert_int_equal(behind.off[1], 4 * MIB);
    assert_int_equal(behind.len[1], 4 * MIB);
    /* A refused part cut back below what was started: from there on. */
    assert_int_equal(upload_truncate(u, 2 * MIB), 0);
    memset(chunk, 'b', sizeof chunk);
    for (int i = 0; i < 4; i++)
        assert_int_equal(upload_write(u, chunk, MIB), 0);
    assert_int_equal(behind.n, 3);
    assert_int_equal(behind.off[2], 2 * MIB);
    assert_int_equal(behind.len[2], 4 * MIB);
    upload_release(u);

    /* Opened again, it goes on from its size. */
    assert_int_equal(upload_open_partial(f->rootfd, "big.bin", ".part", false, &u), 0);
    assert_int_equal(upload_size(u), 6 * MIB);
    for (int i = 0; i < 4; i++)
        assert_int_equal(upload_write(u, chunk, MIB), 0);
    assert_int_equal(behind.n, 4);
    assert_int_equal(behind.off[3], 6 * MIB);
    assert_int_equal(upload_commit(u, &created), 0);
    assert_true(created);
    int fd = openat(f->rootfd, "big.bin", O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    static char got[10 * MIB];
    assert_int_equal(read(fd, got, sizeof got), 10 * MIB);
    close(fd);
    for (size_t i = 0; i < sizeof got; i++)
        if (got[i] != (i < 2 * MIB ? 'a' : 'b'))
            fail_msg("byte %zu is %c", i, got[i]);
    assert_int_equal(unlinkat(f->rootfd, "big.bin", 0), 0);
    assert_tree_as_made(f);
}

int main(void)
{
    static struct unit_list l;

#define ADD(name, fn) unit_add_fixture(&l, name, fn, make_tree, remove_tree, NULL)
    ADD("commit creates the file with the exact bytes", test_create);
    ADD("commit creates a file in a subdirectory", test_create_in_subdirectory);
    ADD("commit of an empty body creates an empty file", test_create_empty);
    ADD("commit replaces an existing file", test_replace);
    ADD("commit overtaken by another did not create the file",
        test_commit_overtaken_did_not_create);
    ADD("commit leaves open readers the old file", test_replace_keeps_open_readers);
    ADD("nothing under the name before commit", test_invisible_until_commit);
    ADD("upload_size counts bytes", test_size_counts);
    ADD("abort of a new file leaves nothing", test_abort_new);
    ADD("abort over an existing file leaves it as it was", test_abort_existing);
    ADD("abort before any write leaves nothing", test_abort_unwritten);
    for (size_t i = 0; i < ARRAY_LEN(refusals); i++)
        unit_add_fixture(&l, refusals[i].name, test_refusal, make_tree, remove_tree, &refusals[i]);
    ADD("refused: a name too long, before the body", test_name_too_long);
    ADD("a parent link within the root is followed", test_parent_link_inside);
    for (size_t i = 0; i < ARRAY_LEN(link_targets); i++)
        unit_add_fixture(&l, link_targets[i].name, test_link_target, make_tree, remove_tree,
                         &link_targets[i]);
    ADD("commit onto a directory made meanwhile fails cleanly", test_commit_onto_new_directory);
    ADD("commit into a directory removed meanwhile fails cleanly",
        test_commit_into_removed_directory);
    ADD("a resumable upload starts its writeback every 4 MiB, a PUT does not",
        test_write_behind);
#undef ADD
    return unit_run("upload", &l);
}
