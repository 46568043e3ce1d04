#include "proto/digest.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "proto/lex.h"

/* A cursor over a field value. */
struct sf {
    const char *s;
    size_t len, i;
};

static bool sf_lcalpha(char c) { return c >= 'a' && c <= 'z'; }
static bool sf_digit(char c) { return c >= '0' && c <= '9'; }

static void sf_ows(struct sf *p)
{
    while (p->i < p->len && (p->s[p->i] == ' ' || p->s[p->i] == '\t'))
        p->i++;
}

static void sf_sp(struct sf *p)
{
    while (p->i < p->len && p->s[p->i] == ' ')
        p->i++;
}

/* key = ( lcalpha / "*" ) *( lcalpha / DIGIT / "_" / "-" / "." / "*" ) */
static int sf_key(struct sf *p, const char **k, size_t *klen)
{
    size_t start = p->i;

    if (p->i >= p->len || !(sf_lcalpha(p->s[p->i]) || p->s[p->i] == '*'))
        return -EINVAL;
    p->i++;
    while (p->i < p->len) {
        char c = p->s[p->i];
        if (!(sf_lcalpha(c) || sf_digit(c) || c == '_' || c == '-' || c == '.' || c == '*'))
            break;
        p->i++;
    }
    *k = p->s + start;
    *klen = p->i - start;
    return 0;
}

enum sf_kind { SF_BYTES, SF_INTEGER, SF_OTHER };

struct sf_item {
    enum sf_kind kind;
    const char *bytes; /* SF_BYTES: the base64 between the colons */
    size_t nbytes;
    int64_t integer; /* SF_INTEGER */
};

/* A bare item. Byte sequences and integers are kept; tokens, strings,
 * booleans and decimals are checked only as far as needed to skip them. */
static int sf_bare_item(struct sf *p, struct sf_item *it)
{
    if (p->i >= p->len)
        return -EINVAL;
    char c = p->s[p->i];
    it->kind = SF_OTHER;
    if (c == ':') {
        size_t start = ++p->i;
        while (p->i < p->len && p->s[p->i] != ':') {
            char b = p->s[p->i];
            if (!((b >= 'A' && b <= 'Z') || sf_lcalpha(b) || sf_digit(b) || b == '+' ||
                  b == '/' || b == '='))
                return -EINVAL;
            p->i++;
        }
        if (p->i >= p->len)
            return -EINVAL;
        it->kind = SF_BYTES;
        it->bytes = p->s + start;
        it->nbytes = p->i - start;
        p->i++;
        return 0;
    }
    if (c == '-' || sf_digit(c)) {
        bool neg = c == '-';
        if (neg)
            p->i++;
        size_t start = p->i;
        uint64_t n = 0;
        if (lex_decimal(p->s, p->len, &p->i, 999999999999999ULL, &n) < 0 || p->i - start > 15)
            return -EINVAL;
        if (p->i < p->len && p->s[p->i] == '.') { /* a decimal: skipped */
            p->i++;
            size_t f = p->i;
            while (p->i < p->len && sf_digit(p->s[p->i]))
                p->i++;
            if (p->i == f || p->i - f > 3 || f - 1 - start > 12)
                return -EINVAL;
            return 0;
        }
        it->kind = SF_INTEGER;
        it->integer = neg ? -(int64_t)n : (int64_t)n;
        return 0;
    }
    if (c == '?') { /* boolean */
        p->i++;
        if (p->i >= p->len || (p->s[p->i] != '0' && p->s[p->i] != '1'))
            return -EINVAL;
        p->i++;
        return 0;
    }
    if (c == '"') { /* string */
        for (p->i++; p->i < p->len; p->i++) {
            char b = p->s[p->i];
            if (b == '\\') {
                if (++p->i >= p->len || (p->s[p->i] != '"' && p->s[p->i] != '\\'))
                    return -EINVAL;
            } else if (b == '"') {
                p->i++;
                return 0;
            } else if ((unsigned char)b < 0x20 || (unsigned char)b > 0x7e) {
                return -EINVAL;
            }
        }
        return -EINVAL;
    }
    if ((c >= 'A' && c <= 'Z') || sf_lcalpha(c) || c == '*') { /* token */
        static const char tchar[] = "!#$%&'*+-.^_`|~:/";
        for (p->i++; p->i < p->len; p->i++) {
            char b = p->s[p->i];
            if (!((b >= 'A' && b <= 'Z') || sf_lcalpha(b) || sf_digit(b) ||
                  (b != '\0' && strchr(tchar, b) != NULL)))
                break;
        }
        return 0;
    }
    return -EINVAL;
}

/* *( ";" *SP key [ "=" bare-item ] ), read past. */
static int sf_params(struct sf *p)
{
    while (p->i < p->len && p->s[p->i] == ';') {
        p->i++;
        sf_sp(p);
        const char *k;
        size_t kl;
        if (sf_key(p, &k, &kl) < 0)
            return -EINVAL;
        if (p->i < p->len && p->s[p->i] == '=') {
            p->i++;
            struct sf_item it;
            if (sf_bare_item(p, &it) < 0)
                return -EINVAL;
        }
    }
    return 0;
}

/* Walks the dictionary; the last member called want is copied to *found.
 * Returns 1 found, 0 not, -EINVAL when the field does not parse. Inner
 * lists and bare keys (boolean true) are members too. */
static int sf_dict_find(const char *v, size_t len, const char *want, struct sf_item *found)
{
    struct sf p = {v, len, 0};
    int have = 0;

    sf_sp(&p);
    if (p.i == p.len)
        return 0;
    for (;;) {
        const char *k;
        size_t kl;
        if (sf_key(&p, &k, &kl) < 0)
            return -EINVAL;
        struct sf_item it = {SF_OTHER, NULL, 0, 0};
        if (p.i < p.len && p.s[p.i] == '=') {
            p.i++;
            if (p.i < p.len && p.s[p.i] == '(') { /* inner list */
                p.i++;
                for (;;) {
                    sf_sp(&p);
                    if (p.i >= p.len)
                        return -EINVAL;
                    if (p.s[p.i] == ')') {
                        p.i++;
                        break;
                    }
                    struct sf_item in;
                    if (sf_bare_item(&p, &in) < 0 || sf_params(&p) < 0)
                        return -EINVAL;
                    if (p.i < p.len && p.s[p.i] != ' ' && p.s[p.i] != ')')
                        return -EINVAL;
                }
            } else if (sf_bare_item(&p, &it) < 0) {
                return -EINVAL;
            }
        }
        if (sf_params(&p) < 0)
            return -EINVAL;
        if (kl == strlen(want) && memcmp(k, want, kl) == 0) {
            *found = it;
            have = 1;
        }
        sf_ows(&p);
        if (p.i == p.len)
            return have;
        if (p.s[p.i] != ',')
            return -EINVAL;
        p.i++;
        sf_ows(&p);
        if (p.i == p.len) /* a trailing comma */
            return -EINVAL;
    }
}

int digest_field_sha256(const char *v, size_t len, unsigned char out[DIGEST_SHA256_LEN])
{
    struct sf_item it;
    int rc = sf_dict_find(v, len, "sha-256", &it);

    if (rc <= 0)
        return rc;
    if (it.kind != SF_BYTES)
        return -EINVAL;
    unsigned char d[DIGEST_SHA256_LEN + 3];
    long n = lex_b64_decode(it.bytes, it.nbytes, d, sizeof d);
    if (n != DIGEST_SHA256_LEN)
        return -EINVAL;
    memcpy(out, d, DIGEST_SHA256_LEN);
    return 1;
}

int digest_want_sha256(const char *v, size_t len)
{
    struct sf_item it;

    if (sf_dict_find(v, len, "sha-256", &it) != 1 || it.kind != SF_INTEGER)
        return 0;
    return it.integer >= 1 && it.integer <= 10;
}

size_t digest_field_format(const unsigned char d[DIGEST_SHA256_LEN], char *out)
{
    memcpy(out, "sha-256=:", 9);
    size_t n = lex_b64_encode(d, DIGEST_SHA256_LEN, out + 9);
    out[9 + n] = ':';
    out[10 + n] = '\0';
    return 10 + n;
}

int digest_hex_parse(const char *s, size_t len, unsigned char out[DIGEST_SHA256_LEN])
{
    unsigned char d[DIGEST_SHA256_LEN];

    if (len != DIGEST_HEX_LEN)
        return -EINVAL;
    for (size_t i = 0; i < DIGEST_SHA256_LEN; i++) {
        int hi = lex_hex_digit(s[2 * i]), lo = lex_hex_digit(s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -EINVAL;
        d[i] = (unsigned char)(hi << 4 | lo);
    }
    memcpy(out, d, sizeof d);
    return 0;
}

void digest_hex_format(const unsigned char d[DIGEST_SHA256_LEN], char *out)
{
    static const char hex[] = "0123456789abcdef";

    for (size_t i = 0; i < DIGEST_SHA256_LEN; i++) {
        out[2 * i] = hex[d[i] >> 4];
        out[2 * i + 1] = hex[d[i] & 15];
    }
    out[DIGEST_HEX_LEN] = '\0';
}
