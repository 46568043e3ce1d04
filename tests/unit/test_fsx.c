/* Unit tests for core/fsx: opening beneath a root (what the kernel's
 * RESOLVE_BENEATH lets through and what it refuses), writing everything
 * through short writes and EINTR, and reading small files up to a limit.
 *
 * write(2) is interposed in this program (see below) so that short writes
 * and EINTR can be forced, and counted when the kernel makes them. */
#include "unit.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>

#include "core/fsx.h"

/* ---- write(2), interposed ----------------------------------------------- */

/* fsx.c's calls to write land here (the program's definition wins over
 * libc's). Normally this passes through, counting calls that wrote less than
 * asked or failed with EINTR; with chop set, every third call fails with
 * EINTR and the others write at most chop bytes. */
static struct {
    atomic_int fd; /* the descriptor watched; others pass through uncounted */
    size_t chop;
    atomic_ulong calls, short_writes, eintr;
} wr = {.fd = -1};

ssize_t write(int fd, const void *p, size_t n)
{
    if (fd != atomic_load(&wr.fd))
        return syscall(SYS_write, fd, p, n);
    unsigned long call = atomic_fetch_add(&wr.calls, 1);
    if (wr.chop > 0 && call % 3 == 2) {
        atomic_fetch_add(&wr.eintr, 1);
        errno = EINTR;
        return -1;
    }
    if (wr.chop > 0 && n > wr.chop)
        n = wr.chop;
    ssize_t w = syscall(SYS_write, fd, p, n);
    if (w < 0 && errno == EINTR)
        atomic_fetch_add(&wr.eintr, 1);
    else if (w >= 0 && (size_t)w < n)
        atomic_fetch_add(&wr.short_writes, 1);
    return w;
}

static void watch(int fd, size_t chop)
{
    wr.chop = chop;
    atomic_store(&wr.calls, 0);
    atomic_store(&wr.short_writes, 0);
    atomic_store(&wr.eintr, 0);
    atomic_store(&wr.fd, fd);
}

static void unwatch(void)
{
    atomic_store(&wr.fd, -1);
    wr.chop = 0;
}

/* ---- a temporary tree --------------------------------------------------- */

/* base/root is the root; base/outside holds what must stay out of reach.
 *   root/f              "inside\n"
 *   root/d/g            "deeper\n"
 *   root/empty          ""
 *   root/rel-in     -> f                  root/rel-dir -> d
 *   root/d/up-in    -> ../f               (.. that stays inside)
 *   root/rel-out    -> ../outside/secret  root/d/deep-out -> ../../outside/secret
 *   root/rel-out-dir -> ../outside
 *   root/abs-out    -> base/outside/secret
 *   root/abs-in     -> base/root/f        (absolute, though it points inside)
 *   root/loop       -> loop
 *   root/dangling   -> missing
 *   outside/secret      "secret\n" */
struct fixture {
    char base[64];
    char root[96];
    int rootfd;
};

static struct fixture fixture;

static void put_link(const char *target, const char *name)
{
    assert_int_equal(symlinkat(target, fixture.rootfd, name), 0);
}

static int make_tree(void **state)
{
    struct fixture *f = &fixture;
    char outside[96], target[192];

    strcpy(f->base, "/tmp/ferry-fsx-XXXXXX");
    if (mkdtemp(f->base) == NULL)
        return -1;
    snprintf(f->root, sizeof f->root, "%.63s/root", f->base);
    snprintf(outside, sizeof outside, "%.63s/outside", f->base);
    if (mkdir(f->root, 0755) < 0 || mkdir(outside, 0755) < 0)
        return -1;
    f->rootfd = open(f->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (f->rootfd < 0)
        return -1;
    unit_put_file(f->root, "f", "inside\n");
    unit_put_file(f->root, "empty", "");
    assert_int_equal(mkdirat(f->rootfd, "d", 0755), 0);
    unit_put_file(f->root, "d/g", "deeper\n");
    unit_put_file(outside, "secret", "secret\n");
    put_link("f", "rel-in");
    put_link("d", "rel-dir");
    put_link("../f", "d/up-in");
    put_link("../outside/secret", "rel-out");
    put_link("../../outside/secret", "d/deep-out");
    put_link("../outside", "rel-out-dir");
    snprintf(target, sizeof target, "%.95s/secret", outside);
    put_link(target, "abs-out");
    snprintf(target, sizeof target, "%.95s/f", f->root);
    put_link(target, "abs-in");
    put_link("loop", "loop");
    put_link("missing", "dangling");
    return 0;
}

static int remove_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    return remove(path);
}

static int remove_tree(void **state)
{
    close(fixture.rootfd);
    return nftw(fixture.base, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- fsx_open_beneath --------------------------------------------------- */

struct open_case {
    const char *name;
    const char *rel;
    int flags;
    int err;          /* 0: opens */
    const char *want; /* what the file holds; NULL for a directory */
};

/* clang-format off */
static const struct open_case open_cases[] = {
    {"plain file", "f", O_RDONLY, 0, "inside\n"},
    {"file in a directory", "d/g", O_RDONLY, 0, "deeper\n"},
    {"empty file", "empty", O_RDONLY, 0, ""},
    {"the root itself", ".", O_RDONLY, 0, NULL},
    {"a directory", "d", O_RDONLY | O_DIRECTORY, 0, NULL},
    {"relative link inside", "rel-in", O_RDONLY, 0, "inside\n"},
    {"relative link to a directory inside", "rel-dir/g", O_RDONLY, 0, "deeper\n"},
    {"relative link with .. that stays inside", "d/up-in", O_RDONLY, 0, "inside\n"},
    {"refused: ..", "..", O_RDONLY, -EXDEV, NULL},
    {"refused: .. to a file outside", "../outside/secret", O_RDONLY, -EXDEV, NULL},
    {"refused: .. deeper than the root", "d/../../outside/secret", O_RDONLY, -EXDEV, NULL},
    {"refused: absolute path", "/etc/passwd", O_RDONLY, -EXDEV, NULL},
    {"refused: relative link outside", "rel-out", O_RDONLY, -EXDEV, NULL},
    {"refused: relative link outside, from a subdirectory", "d/deep-out", O_RDONLY, -EXDEV, NULL},
    {"refused: relative link to a directory outside", "rel-out-dir/secret", O_RDONLY, -EXDEV,
     NULL},
    {"refused: absolute link outside", "abs-out", O_RDONLY, -EXDEV, NULL},
    {"refused: absolute link, even one pointing inside", "abs-in", O_RDONLY, -EXDEV, NULL},
    {"refused: O_PATH does not get past a link outside", "rel-out", O_PATH, -EXDEV, NULL},
    {"error: missing", "missing", O_RDONLY, -ENOENT, NULL},
    {"error: dangling link", "dangling", O_RDONLY, -ENOENT, NULL},
    {"error: link loop", "loop", O_RDONLY, -ELOOP, NULL},
    {"error: a file as a directory", "f/x", O_RDONLY, -ENOTDIR, NULL},
    {"flags kept: O_DIRECTORY on a file", "f", O_RDONLY | O_DIRECTORY, -ENOTDIR, NULL},
    {"flags kept: O_NOFOLLOW on a link", "rel-in", O_RDONLY | O_NOFOLLOW, -ELOOP, NULL},
    {"flags kept: O_CREAT | O_EXCL on an existing file", "f", O_WRONLY | O_CREAT | O_EXCL,
     -EEXIST, NULL},
};
/* clang-format on */

static void test_open(void **state)
{
    const struct open_case *c = *state;
    int fd = fsx_open_beneath(fixture.rootfd, c->rel, c->flags);

    if (c->err != 0) {
        if (fd != c->err)
            fail_msg("%s: %d, want %d", c->name, fd, c->err);
        return;
    }
    if (fd < 0)
        fail_msg("%s: %d, want a descriptor", c->name, fd);
    assert_true((fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0); /* added */
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    if (c->want == NULL) {
        assert_true(S_ISDIR(st.st_mode));
    } else {
        char data[64] = "";
        assert_true(S_ISREG(st.st_mode));
        assert_int_equal(read(fd, data, sizeof data - 1), (ssize_t)strlen(c->want));
        assert_string_equal(data, c->want);
    }
    close(fd);
}

static void test_open_bad_root(void **state)
{
    assert_int_equal(fsx_open_beneath(-1, "f", O_RDONLY), -EBADF);
}

/* A root that is a file, not a directory. */
static void test_open_file_root(void **state)
{
    int filefd = openat(fixture.rootfd, "f", O_RDONLY | O_CLOEXEC);

    assert_true(filefd >= 0);
    assert_int_equal(fsx_open_beneath(filefd, "x", O_RDONLY), -ENOTDIR);
    close(filefd);
}

/* ---- fsx_real_rel ------------------------------------------------------- */

/* Where a descriptor opened through links really is beneath the root. */
static void test_real_rel(void **state)
{
    static const struct {
        const char *open, *want;
    } rows[] = {
        {"f", "f"},       {"rel-in", "f"},      {"d/up-in", "f"},
        {"rel-dir", "d"}, {"rel-dir/g", "d/g"}, {".", "."},
    };
    char out[4096];

    for (size_t i = 0; i < ARRAY_LEN(rows); i++) {
        int fd = fsx_open_beneath(fixture.rootfd, rows[i].open, O_RDONLY);
        assert_true(fd >= 0);
        int rc = fsx_real_rel(fixture.rootfd, fd, out, sizeof out);
        if (rc != 0 || strcmp(out, rows[i].want) != 0)
            fail_msg("%s: %d \"%s\", want \"%s\"", rows[i].open, rc, out, rows[i].want);
        /* the kernel's name is absolute: 3 bytes never hold it */
        assert_int_equal(fsx_real_rel(fixture.rootfd, fd, out, 3), -ENAMETOOLONG);
        close(fd);
    }
    /* Beneath another directory only: the root is not beneath "d". */
    int dfd = fsx_open_beneath(fixture.rootfd, "d", O_RDONLY | O_DIRECTORY);
    assert_true(dfd >= 0);
    assert_int_equal(fsx_real_rel(dfd, fixture.rootfd, out, sizeof out), -EXDEV);
    close(dfd);
}

/* ---- fsx_write_all ------------------------------------------------------ */

struct reader {
    int fd;
    char *got;
    size_t cap, len; /* len counts every byte read, even past cap */
    size_t step;     /* bytes per read, at most 4096 */
    bool slow;       /* yield between reads */
};

/* Reads until end of file, keeping the first cap bytes. */
static void *read_all(void *arg)
{
    struct reader *r = arg;
    char chunk[4096];

    for (;;) {
        ssize_t n = read(r->fd, chunk, r->step);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        if (r->len < r->cap)
            memcpy(r->got + r->len, chunk,
                   (size_t)n < r->cap - r->len ? (size_t)n : r->cap - r->len);
        r->len += (size_t)n;
        if (r->slow)
            sched_yield();
    }
    return NULL;
}

static void fill_pattern(char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (char)(i * 131 + i / 251);
}

static void test_write_small(void **state)
{
    int p[2];
    char got[16] = "";

    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    watch(p[1], 0);
    assert_int_equal(fsx_write_all(p[1], "hello", 5), 0);
    assert_int_equal(atomic_load(&wr.calls), 1);
    unwatch();
    close(p[1]);
    assert_int_equal(read(p[0], got, sizeof got), 5);
    assert_memory_equal(got, "hello", 5);
    close(p[0]);
}

static void test_write_nothing(void **state)
{
    int p[2];
    char got[4];

    assert_int_equal(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
    watch(p[1], 0);
    assert_int_equal(fsx_write_all(p[1], "x", 0), 0);
    assert_int_equal(atomic_load(&wr.calls), 0);
    unwatch();
    assert_int_equal(read(p[0], got, sizeof got), -1);
    assert_int_equal(errno, EAGAIN);
    close(p[0]);
    close(p[1]);
}

/* Forced: writes of at most 7 bytes, every third call EINTR. All bytes
 * arrive, in order, and each short write was followed by another. */
static void test_write_forced_short(void **state)
{
    enum { N = 10000, CHOP = 7 };
    static char data[N], got[N];
    struct reader r = {.got = got, .cap = N, .step = 4096};
    pthread_t t;
    int p[2];

    fill_pattern(data, N);
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    r.fd = p[0];
    assert_int_equal(pthread_create(&t, NULL, read_all, &r), 0);
    watch(p[1], CHOP);
    int rc = fsx_write_all(p[1], data, N);
    unsigned long calls = atomic_load(&wr.calls), eintr = atomic_load(&wr.eintr);
    unwatch();
    close(p[1]);
    pthread_join(t, NULL);
    close(p[0]);
    assert_int_equal(rc, 0);
    assert_int_equal(r.len, N);
    assert_memory_equal(got, data, N);
    unsigned long writes = (N + CHOP - 1) / CHOP; /* the calls that wrote */
    assert_int_equal(eintr, (writes - 1) / 2);    /* one after every second of them */
    assert_int_equal(calls, writes + eintr);
}

static void on_signal(int sig)
{
    (void)sig;
}

struct nagger {
    pthread_t target;
    atomic_bool stop;
    unsigned long sent;
};

static void *nag(void *arg)
{
    struct nagger *n = arg;

    while (!atomic_load(&n->stop)) {
        pthread_kill(n->target, SIGUSR1);
        n->sent++;
        struct timespec ts = {0, 200000};
        nanosleep(&ts, NULL);
    }
    return NULL;
}

/* Real: a pipe shrunk to one page, a reader taking 1000 bytes at a time and
 * SIGUSR1 (without SA_RESTART) interrupting the writer while it waits, so
 * that the kernel returns short writes and EINTR. All bytes arrive, in
 * order. */
static void test_write_interrupted_pipe(void **state)
{
    enum { N = 4 << 20 };
    char *data = malloc(N), *got = malloc(N);
    struct reader r = {.got = got, .cap = N, .step = 1000, .slow = true};
    struct nagger ng = {.target = pthread_self()};
    struct sigaction sa = {.sa_handler = on_signal}, old;
    pthread_t rt, nt;
    int p[2];

    assert_non_null(data);
    assert_non_null(got);
    fill_pattern(data, N);
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    assert_true(fcntl(p[1], F_SETPIPE_SZ, 4096) >= 4096);
    assert_int_equal(fcntl(p[1], F_GETPIPE_SZ), 4096);
    sigemptyset(&sa.sa_mask);
    assert_int_equal(sigaction(SIGUSR1, &sa, &old), 0);
    r.fd = p[0];
    assert_int_equal(pthread_create(&rt, NULL, read_all, &r), 0);
    assert_int_equal(pthread_create(&nt, NULL, nag, &ng), 0);
    watch(p[1], 0);
    int rc = fsx_write_all(p[1], data, N);
    unsigned long shorts = atomic_load(&wr.short_writes), eintr = atomic_load(&wr.eintr);
    unwatch();
    atomic_store(&ng.stop, true);
    pthread_join(nt, NULL);
    close(p[1]);
    pthread_join(rt, NULL);
    close(p[0]);
    sigaction(SIGUSR1, &old, NULL);
    assert_int_equal(rc, 0);
    assert_int_equal(r.len, N);
    assert_memory_equal(got, data, N);
    print_message("      %lu signals: %lu short writes, %lu EINTR\n", ng.sent, shorts, eintr);
    assert_true(shorts + eintr > 0); /* the situation this test is for did arise */
    free(data);
    free(got);
}

/* A non-blocking pipe that fills up: the caller hears -EAGAIN (fsx_write_all
 * is for blocking descriptors; what went before is in the pipe). */
static void test_write_nonblocking_full(void **state)
{
    static char data[65536 * 2];
    int p[2];

    assert_int_equal(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
    assert_true(fcntl(p[1], F_SETPIPE_SZ, 4096) >= 4096);
    assert_int_equal(fsx_write_all(p[1], data, sizeof data), -EAGAIN);
    close(p[0]);
    close(p[1]);
}

static void test_write_closed_reader(void **state)
{
    struct sigaction sa = {.sa_handler = SIG_IGN}, old;
    int p[2];

    sigemptyset(&sa.sa_mask);
    assert_int_equal(sigaction(SIGPIPE, &sa, &old), 0);
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    close(p[0]);
    assert_int_equal(fsx_write_all(p[1], "x", 1), -EPIPE);
    close(p[1]);
    sigaction(SIGPIPE, &old, NULL);
}

static void test_write_bad_fd(void **state)
{
    assert_int_equal(fsx_write_all(-1, "x", 1), -EBADF);
}

/* ---- fsx_read_file ------------------------------------------------------ */

struct read_case {
    const char *name;
    const char *rel;  /* beneath the root */
    const char *data; /* written first unless NULL */
    size_t datalen;
    size_t max;
    int err;
};

/* clang-format off */
static const struct read_case read_cases[] = {
    {"read: small file", "a", "hello\n", 6, 100, 0},
    {"read: exactly max", "a", "0123456789", 10, 10, 0},
    {"read: one past max", "a", "0123456789", 10, 9, -EFBIG},
    {"read: far past max", "a", "0123456789", 10, 0, -EFBIG},
    {"read: empty file, max 0", "a", "", 0, 0, 0},
    {"read: NUL bytes inside", "a", "a\0b\0c", 5, 5, 0},
    {"read: missing file", "nope", NULL, 0, 100, -ENOENT},
    {"read: missing directory", "nope/a", NULL, 0, 100, -ENOENT},
    {"read: a file as a directory", "f/a", NULL, 0, 100, -ENOTDIR},
    {"read: a directory", "d", NULL, 0, 1 << 20, -EISDIR},
};
/* clang-format on */

static void test_read(void **state)
{
    const struct read_case *c = *state;
    char path[256];
    char *out = NULL;
    size_t len = 12345;

    snprintf(path, sizeof path, "%s/%s", fixture.root, c->rel);
    if (c->data != NULL) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, c->data, c->datalen), (ssize_t)c->datalen);
        close(fd);
    }
    int rc = fsx_read_file(path, c->max, &out, &len);
    if (rc != c->err)
        fail_msg("%s: %d, want %d", c->name, rc, c->err);
    if (rc == 0) {
        assert_non_null(out);
        assert_int_equal(len, c->datalen);
        assert_memory_equal(out, c->data, c->datalen);
        assert_int_equal(out[len], '\0');
        free(out);
    }
}

/* A larger file than one read is likely to return comes back whole. */
static void test_read_large(void **state)
{
    enum { N = 3 << 20 };
    char path[256], *data = malloc(N), *out = NULL;
    size_t len = 0;

    assert_non_null(data);
    fill_pattern(data, N);
    snprintf(path, sizeof path, "%s/large", fixture.root);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, N), N);
    close(fd);
    assert_int_equal(fsx_read_file(path, N, &out, &len), 0);
    assert_int_equal(len, N);
    assert_memory_equal(out, data, N);
    free(out);
    assert_int_equal(fsx_read_file(path, N - 1, &out, &len), -EFBIG);
    free(data);
}

int main(void)
{
    static struct unit_list l;

    for (size_t i = 0; i < ARRAY_LEN(open_cases); i++)
        unit_add_fixture(&l, open_cases[i].name, test_open, make_tree, remove_tree, &open_cases[i]);
    unit_add(&l, "open: a bad root descriptor", test_open_bad_root, NULL);
    unit_add_fixture(&l, "open: a root that is a file", test_open_file_root, make_tree, remove_tree,
                     NULL);
    unit_add_fixture(&l, "real rel: through links, beneath the root only", test_real_rel, make_tree,
                     remove_tree, NULL);
    unit_add(&l, "write: a few bytes in one call", test_write_small, NULL);
    unit_add(&l, "write: nothing to write", test_write_nothing, NULL);
    unit_add(&l, "write: forced short writes and EINTR", test_write_forced_short, NULL);
    unit_add(&l, "write: a one-page pipe interrupted by signals", test_write_interrupted_pipe,
             NULL);
    unit_add(&l, "write: a full non-blocking pipe", test_write_nonblocking_full, NULL);
    unit_add(&l, "write: the reader has gone", test_write_closed_reader, NULL);
    unit_add(&l, "write: a bad descriptor", test_write_bad_fd, NULL);
    for (size_t i = 0; i < ARRAY_LEN(read_cases); i++)
        unit_add_fixture(&l, read_cases[i].name, test_read, make_tree, remove_tree, &read_cases[i]);
    unit_add_fixture(&l, "read: a large file", test_read_large, make_tree, remove_tree, NULL);
    return unit_run("fsx", &l);
}
