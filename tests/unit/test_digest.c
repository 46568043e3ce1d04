/* Unit tests for proto/digest (the RFC 9530 fields, sha-256 only), the
 * base64 encoder in proto/lex, and core/hash (checked against the FIPS 180-2
 * test vectors and against itself over a file read in pieces). Every field
 * is parsed against a guard page, whole and cut at each byte. */
#include "unit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "proto/digest.h"
#include "proto/lex.h"

/* sha-256("abc") and its base64. */
static const char abc_hex[] = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
static const char abc_b64[] = "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=";

struct field_case {
    const char *name;
    const char *in;
    int want; /* 1 found (the digest of "abc"), 0 none, -EINVAL */
};

#define ABC ":ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=:"
static const struct field_case fields[] = {
    {"sha-256 alone", "sha-256=" ABC, 1},
    {"empty field", "", 0},
    {"spaces only", "   ", 0},
    {"other algorithm only", "sha-512=:AAAA:", 0},
    {"sha-256 after another", "sha-512=:AAAA:, sha-256=" ABC, 1},
    {"sha-256 before another", "sha-256=" ABC ",unixsum=:AAAA:", 1},
    {"with parameters", "sha-256=" ABC ";a=1;b", 1},
    {"tabs around the comma", "md5=:AAAA:\t,\tsha-256=" ABC, 1},
    {"the last of two wins", "sha-256=:AAAA:, sha-256=" ABC, 1},
    {"a bad one after the last good one", "sha-256=" ABC ", sha-256=:AAAA:", -EINVAL},
    {"wrong length", "sha-256=:AAAA:", -EINVAL},
    {"a token, not bytes", "sha-256=abc", -EINVAL},
    {"an integer, not bytes", "sha-256=10", -EINVAL},
    {"bare key", "sha-256", -EINVAL},
    {"unpadded base64", "sha-256=:ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0:", -EINVAL},
    {"unterminated bytes", "sha-256=:ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=", -EINVAL},
    {"bad base64 byte", "sha-256=:ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0*:", -EINVAL},
    {"upper-case key", "SHA-256=" ABC, -EINVAL},
    {"trailing comma", "sha-256=" ABC ",", -EINVAL},
    {"two commas", "md5=:AAAA:,,sha-256=" ABC, -EINVAL},
    {"junk after the item", "sha-256=" ABC "x", -EINVAL},
    {"string member elsewhere", "note=\"a, b\", sha-256=" ABC, 1},
    {"inner list elsewhere", "l=(1 2 \"x\");p, sha-256=" ABC, 1},
    {"boolean elsewhere", "ok=?1, sha-256=" ABC, 1},
    {"decimal elsewhere", "v=1.5, sha-256=" ABC, 1},
    {"bad boolean elsewhere", "ok=?2, sha-256=" ABC, -EINVAL},
    {"unterminated inner list", "l=(1 2, sha-256=" ABC, -EINVAL},
};

static void test_field(void **state)
{
    const struct field_case *c = *state;
    size_t len = strlen(c->in);
    unsigned char d[32], want[32];
    struct guard g;

    assert_int_equal(digest_hex_parse(abc_hex, 64, want), 0);
    for (size_t k = 0; k < len; k++) { /* every cut, within its bytes */
        guard_open(&g, k + 1);
        (void)digest_field_sha256(guard_put(&g, c->in, k), k, d);
        guard_close(&g);
    }
    memset(d, 0, sizeof d);
    guard_open(&g, len + 1);
    int rc = digest_field_sha256(guard_put(&g, c->in, len), len, d);
    guard_close(&g);
    if (rc != c->want)
        fail_msg("%s: \"%s\" gave %d, want %d", c->name, c->in, rc, c->want);
    if (rc == 1)
        assert_memory_equal(d, want, 32);
}

struct want_case {
    const char *name;
    const char *in;
    int want;
};

static const struct want_case wants[] = {
    {"sha-256 preferred", "sha-256=10", 1},
    {"sha-256 least", "sha-256=1", 1},
    {"sha-256 among others", "sha-512=3, sha-256=5", 1},
    {"sha-256 not acceptable", "sha-256=0", 0},
    {"out of range", "sha-256=11", 0},
    {"negative", "sha-256=-1", 0},
    {"only others", "sha-512=10", 0},
    {"bytes instead", "sha-256=:AAAA:", 0},
    {"malformed", "sha-256=10,", 0},
    {"empty", "", 0},
    {"with parameters", "sha-256=7;x", 1},
};

static void test_want(void **state)
{
    const struct want_case *c = *state;
    size_t len = strlen(c->in);
    struct guard g;

    guard_open(&g, len + 1);
    int rc = digest_want_sha256(guard_put(&g, c->in, len), len);
    guard_close(&g);
    if (rc != c->want)
        fail_msg("%s: \"%s\" gave %d, want %d", c->name, c->in, rc, c->want);
}

/* Format, then parse: the same bytes; the text is exactly the known one. */
static void test_format_round_trip(void **state)
{
    unsigned char d[32], back[32];
    char text[DIGEST_FIELD_LEN + 1];
    (void)state;

    hash_sha256("abc", 3, d);
    assert_int_equal(digest_field_format(d, text), DIGEST_FIELD_LEN);
    assert_string_equal(text, "sha-256=" ABC);
    assert_int_equal(digest_field_sha256(text, strlen(text), back), 1);
    assert_memory_equal(d, back, 32);
    for (int i = 0; i < 256; i++) { /* every first byte value */
        d[0] = (unsigned char)i;
        d[31] = (unsigned char)(255 - i);
        digest_field_format(d, text);
        assert_int_equal(digest_field_sha256(text, strlen(text), back), 1);
        assert_memory_equal(d, back, 32);
    }
}

static void test_hex(void **state)
{
    unsigned char d[32];
    char hex[DIGEST_HEX_LEN + 1];
    (void)state;

    assert_int_equal(digest_hex_parse(abc_hex, 64, d), 0);
    digest_hex_format(d, hex);
    assert_string_equal(hex, abc_hex);
    char upper[65];
    for (int i = 0; i < 65; i++)
        upper[i] = (char)((abc_hex[i] >= 'a' && abc_hex[i] <= 'f') ? abc_hex[i] - 32 : abc_hex[i]);
    assert_int_equal(digest_hex_parse(upper, 64, d), 0);
    assert_int_equal(digest_hex_parse(abc_hex, 63, d), -EINVAL);
    assert_int_equal(digest_hex_parse(abc_hex, 65, d), -EINVAL);
    char bad[65];
    memcpy(bad, abc_hex, 65);
    bad[10] = 'g';
    memset(d, 7, sizeof d);
    assert_int_equal(digest_hex_parse(bad, 64, d), -EINVAL);
    assert_int_equal(d[0], 7); /* unchanged on error */
}

/* RFC 4648 §10 vectors, and decode(encode(x)) == x for lengths 0..64. */
static void test_b64_encode(void **state)
{
    static const struct {
        const char *in, *out;
    } v[] = {{"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},         {"foo", "Zm9v"},
             {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"}};
    char out[128];
    unsigned char raw[64], back[64];
    (void)state;

    for (size_t i = 0; i < ARRAY_LEN(v); i++) {
        size_t n = lex_b64_encode((const unsigned char *)v[i].in, strlen(v[i].in), out);
        assert_int_equal(n, strlen(v[i].out));
        assert_string_equal(out, v[i].out);
    }
    for (size_t n = 1; n <= sizeof raw; n++) {
        for (size_t k = 0; k < n; k++)
            raw[k] = (unsigned char)(k * 37 + n);
        size_t m = lex_b64_encode(raw, n, out);
        assert_int_equal(m, LEX_B64_LEN(n));
        assert_int_equal(lex_b64_decode(out, m, back, sizeof back), (long)n);
        assert_memory_equal(raw, back, n);
    }
    assert_string_equal(abc_b64, "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=");
}

/* FIPS 180-2 vectors, in one go and byte by byte. */
static void test_hash_vectors(void **state)
{
    static const char two[] = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    unsigned char d[32], want[32];
    (void)state;

    hash_sha256("abc", 3, d);
    assert_int_equal(digest_hex_parse(abc_hex, 64, want), 0);
    assert_memory_equal(d, want, 32);
    assert_int_equal(
        digest_hex_parse("248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1", 64, want),
        0);
    struct hash *h = hash_new();
    assert_non_null(h);
    for (size_t i = 0; i < strlen(two); i++)
        hash_update(h, two + i, 1);
    hash_final(h, d);
    assert_memory_equal(d, want, 32);
    assert_int_equal(
        digest_hex_parse("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", 64, want),
        0);
    hash_sha256("", 0, d);
    assert_memory_equal(d, want, 32);
}

/* A file over several of hash_sha256_fd's 1 MiB reads: the same digest as
 * from memory, the size reported, and the file offset left alone. */
static void test_hash_fd(void **state)
{
    size_t n = (3u << 20) + 12345;
    unsigned char *p = malloc(n), d[32], want[32];
    char path[] = "/tmp/ferry-test-hash-XXXXXX";
    int fd = mkstemp(path);
    uint64_t size = 0;
    (void)state;

    assert_non_null(p);
    assert_true(fd >= 0);
    unlink(path);
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)(i * 2654435761u >> 13);
    assert_int_equal(write(fd, p, n), (ssize_t)n);
    assert_int_equal(lseek(fd, 5, SEEK_SET), 5);
    assert_int_equal(hash_sha256_fd(fd, d, &size, NULL), 0);
    assert_int_equal(size, n);
    assert_int_equal(lseek(fd, 0, SEEK_CUR), 5);
    hash_sha256(p, n, want);
    assert_memory_equal(d, want, 32);
    assert_int_equal(hash_sha256_fd(-1, d, NULL, NULL), -EBADF);
    atomic_bool stop = true;
    assert_int_equal(hash_sha256_fd(fd, d, &size, &stop), -ECANCELED);
    close(fd);
    free(p);
}

/* A file hashed while it is written, in uneven steps, by the thread that
 * follows the writer: the same digest as hashing it whole. A file shorter
 * than the end said is an error; a cancelled follower just stops. */
static void test_hash_follow(void **state)
{
    (void)state;
    char path[] = "/tmp/ferry-test-follow-XXXXXX";
    int fd = mkstemp(path);
    size_t n = (5u << 20) + 12345;
    unsigned char *p = malloc(n), d[32], want[32];
    struct hash_follow *hf;

    assert_true(fd >= 0);
    assert_non_null(p);
    unlink(path);
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)(i * 2654435761u >> 11);
    assert_int_equal(hash_follow_start(fd, &hf), 0);
    size_t at = 0, step = 1;
    while (at < n) {
        size_t k = step < n - at ? step : n - at;
        assert_int_equal(write(fd, p + at, k), (ssize_t)k);
        at += k;
        hash_follow_advance(hf, at);
        step = step * 3 + 7;
    }
    assert_int_equal(hash_follow_finish(hf, n, d), 0);
    hash_sha256(p, n, want);
    assert_memory_equal(d, want, 32);
    /* Said to be longer than it is. */
    assert_int_equal(hash_follow_start(fd, &hf), 0);
    hash_follow_advance(hf, 100);
    assert_int_equal(hash_follow_finish(hf, n + 1, d), -EIO);
    /* Cancelled half way, or before anything. */
    assert_int_equal(hash_follow_start(fd, &hf), 0);
    hash_follow_advance(hf, n / 2);
    hash_follow_cancel(hf);
    assert_int_equal(hash_follow_start(fd, &hf), 0);
    hash_follow_cancel(hf);
    hash_follow_cancel(NULL);
    /* An empty file. */
    assert_int_equal(hash_follow_start(fd, &hf), 0);
    assert_int_equal(hash_follow_finish(hf, 0, d), 0);
    hash_sha256("", 0, want);
    assert_memory_equal(d, want, 32);
    close(fd);
    free(p);
}

/* The xattr text: what format writes, parse reads back for the same
 * version only; every cut and every changed byte of a good text is refused
 * or reads as another version, never as this one with another digest. */
static void test_stamp(void **state)
{
    (void)state;
    struct digest_stamp st = {.size = 1234567, .mtime_ns = 1700000000123456789ull, .ino = 42};
    unsigned char d[32], got[32];
    char text[DIGEST_STAMP_MAX];

    assert_int_equal(digest_hex_parse(abc_hex, 64, d), 0);
    size_t n = digest_stamp_format(&st, d, text);
    assert_string_equal(text, "v1 1234567 1700000000123456789 42 "
                              "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_int_equal(n, strlen(text));
    assert_int_equal(digest_stamp_parse(text, n, &st, got), 1);
    assert_memory_equal(got, d, 32);
    assert_int_equal(digest_stamp_parse(text, n + 1, &st, got), 1); /* with its NUL */
    struct digest_stamp other = st;
    other.mtime_ns++;
    assert_int_equal(digest_stamp_parse(text, n, &other, got), 0);
    other = st;
    other.size--;
    assert_int_equal(digest_stamp_parse(text, n, &other, got), 0);
    other = st;
    other.ino = 43;
    assert_int_equal(digest_stamp_parse(text, n, &other, got), 0);
    /* Only what format writes: a leading zero is another text. */
    char padded[DIGEST_STAMP_MAX + 1];
    snprintf(padded, sizeof padded, "v1 0%s", text + 3);
    assert_int_equal(digest_stamp_parse(padded, strlen(padded), &st, got), -EINVAL);
    for (size_t cut = 0; cut < n; cut++) {
        char *p = malloc(cut + 1);
        assert_non_null(p);
        memcpy(p, text, cut);
        memset(got, 0, sizeof got);
        assert_int_equal(digest_stamp_parse(p, cut, &st, got), -EINVAL);
        free(p);
    }
    for (size_t i = 0; i < n; i++) {
        char copy[DIGEST_STAMP_MAX];
        memcpy(copy, text, n);
        copy[i] = copy[i] == 'x' ? 'y' : 'x';
        assert_true(digest_stamp_parse(copy, n, &st, got) < 1);
    }
    static const char *const bad[] = {"", "v1", "v2 1 2 3 " "00", "v1  1234567 1700000000123456789 42 ",
                                      "v1 -1 2 3 ", "v1 99999999999999999999 2 3 "};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(digest_stamp_parse(bad[i], strlen(bad[i]), &st, got), -EINVAL);
}

int main(void)
{
    static struct unit_list l;

    UNIT_ADD_ROWS(&l, fields, test_field);
    UNIT_ADD_ROWS(&l, wants, test_want);
    unit_add(&l, "format and parse agree", test_format_round_trip, NULL);
    unit_add(&l, "hex", test_hex, NULL);
    unit_add(&l, "base64 encoding", test_b64_encode, NULL);
    unit_add(&l, "sha-256 vectors", test_hash_vectors, NULL);
    unit_add(&l, "sha-256 of a file", test_hash_fd, NULL);
    unit_add(&l, "the xattr stamp", test_stamp, NULL);
    unit_add(&l, "sha-256 of a file being written", test_hash_follow, NULL);
    return unit_run("digest", &l);
}
