#include "proto/sf.h"

#include <errno.h>
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

/* A bare item. Byte sequences, integers and booleans are kept; tokens,
 * strings and decimals are checked only as far as needed to skip them. */
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
    if (c == '?') {
        p->i++;
        if (p->i >= p->len || (p->s[p->i] != '0' && p->s[p->i] != '1'))
            return -EINVAL;
        it->kind = SF_BOOLEAN;
        it->boolean = p->s[p->i] == '1';
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

int sf_dict_find(const char *v, size_t len, const char *want, struct sf_item *found)
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
        struct sf_item it = {SF_BOOLEAN, NULL, 0, 0, true}; /* a bare key is true */
        if (p.i < p.len && p.s[p.i] == '=') {
            p.i++;
            if (p.i < p.len && p.s[p.i] == '(') { /* inner list */
                it.kind = SF_OTHER;
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

int sf_item_parse(const char *v, size_t len, struct sf_item *out)
{
    struct sf p = {v, len, 0};
    struct sf_item it = {SF_OTHER, NULL, 0, 0, false};

    sf_sp(&p);
    if (sf_bare_item(&p, &it) < 0 || sf_params(&p) < 0)
        return -EINVAL;
    sf_sp(&p);
    if (p.i != p.len)
        return -EINVAL;
    *out = it;
    return 0;
}
