/* Accounts and rights: the --auth file's lines, rights lookup, Basic
 * credentials. The contracts are in proto/auth.h. */
#include "proto/auth.h"
#include "proto/lex.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

static bool is_alnum(unsigned char ch)
{
    return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

/* The crypt(3) alphabet: "./0-9A-Za-z". */
static bool is_crypt64(unsigned char ch)
{
    return is_alnum(ch) || ch == '.' || ch == '/';
}

static bool all_crypt64(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!is_crypt64((unsigned char)s[i]))
            return false;
    return true;
}

bool auth_user_valid(const char *s, size_t len)
{
    if (len == 0 || len > AUTH_USER_MAX || s[0] == '.' || s[0] == '-')
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (!is_alnum(ch) && ch != '.' && ch != '_' && ch != '-')
            return false;
    }
    return true;
}

/* Splits s[0..len) at '$' into at most max fields (after the leading '$').
 * Returns the number of fields, or -1 for more than max. */
static int dollar_fields(const char *s, size_t len, const char **f, size_t *fl, int max)
{
    int n = 0;
    size_t i = 1, start = 1;

    if (len == 0 || s[0] != '$')
        return -1;
    for (; i <= len; i++) {
        if (i == len || s[i] == '$') {
            if (n == max)
                return -1;
            f[n] = s + start;
            fl[n] = i - start;
            n++;
            start = i + 1;
        }
    }
    return n;
}

enum auth_hash_kind auth_hash_kind(const char *s, size_t len)
{
    const char *f[5];
    size_t fl[5];
    int n = dollar_fields(s, len, f, fl, 5);

    if (n < 1 || len > AUTH_HASH_MAX)
        return AUTH_HASH_NONE;
    if (fl[0] == 1 && f[0][0] == 'y') {
        /* $y$PARAMS$SALT$HASH, the hash 43 characters (32 bytes) */
        if (n == 4 && fl[1] > 0 && fl[2] > 0 && fl[3] == 43 && all_crypt64(f[1], fl[1]) &&
            all_crypt64(f[2], fl[2]) && all_crypt64(f[3], fl[3]))
            return AUTH_HASH_YESCRYPT;
        return AUTH_HASH_NONE;
    }
    if (fl[0] == 2 && f[0][0] == '2' && f[0][1] == 'b') {
        /* $2b$CC$ then 22 salt and 31 hash characters; cost 04 to 31 */
        if (n != 3 || fl[1] != 2 || fl[2] != 53 || !all_crypt64(f[2], fl[2]))
            return AUTH_HASH_NONE;
        if (f[1][0] < '0' || f[1][0] > '3' || f[1][1] < '0' || f[1][1] > '9')
            return AUTH_HASH_NONE;
        int cost = (f[1][0] - '0') * 10 + (f[1][1] - '0');
        return cost >= 4 && cost <= 31 ? AUTH_HASH_BCRYPT : AUTH_HASH_NONE;
    }
    if (fl[0] == 1 && f[0][0] == '6') {
        /* $6$[rounds=N$]SALT$HASH, salt up to 16, hash 86 characters */
        int k = 1;
        if (n == 4) {
            if (fl[1] < 8 || memcmp(f[1], "rounds=", 7) != 0 || fl[1] > 7 + 10)
                return AUTH_HASH_NONE;
            for (size_t i = 7; i < fl[1]; i++)
                if (f[1][i] < '0' || f[1][i] > '9')
                    return AUTH_HASH_NONE;
            k = 2;
        } else if (n != 3) {
            return AUTH_HASH_NONE;
        }
        if (fl[k] == 0 || fl[k] > 16 || !all_crypt64(f[k], fl[k]) || fl[k + 1] != 86 ||
            !all_crypt64(f[k + 1], fl[k + 1]))
            return AUTH_HASH_NONE;
        return AUTH_HASH_SHA512;
    }
    return AUTH_HASH_NONE;
}

size_t auth_hash_params(const char *s, size_t len)
{
    size_t i;

    if (len >= 3 && s[0] == '$' && s[1] == 'y' && s[2] == '$') {
        for (i = 3; i < len && is_crypt64((unsigned char)s[i]); i++)
            ;
        return i > 3 && i < len && s[i] == '$' ? i + 1 : 0;
    }
    if (len >= 7 && memcmp(s, "$2b$", 4) == 0) {
        bool digits = s[4] >= '0' && s[4] <= '9' && s[5] >= '0' && s[5] <= '9';
        return digits && s[6] == '$' ? 7 : 0;
    }
    if (len < 3 || memcmp(s, "$6$", 3) != 0)
        return 0;
    if (len < 10 || memcmp(s + 3, "rounds=", 7) != 0)
        return 3;
    for (i = 10; i < len && s[i] >= '0' && s[i] <= '9'; i++)
        ;
    return i > 10 && i < len && s[i] == '$' ? i + 1 : 0;
}

int auth_dummy_setting(const char *hash, size_t hlen, const char *fresh, size_t flen, char *out,
                       size_t outsz)
{
    enum auth_hash_kind kind = auth_hash_kind(hash, hlen);
    size_t hp = auth_hash_params(hash, hlen), fp = auth_hash_params(fresh, flen);

    if (kind == AUTH_HASH_NONE || hp == 0 || fp == 0)
        return -EINVAL;
    /* The scheme id is the field after the first '$': "y", "2b" or "6". */
    const char *id_end = memchr(hash + 1, '$', hp - 1);
    size_t id = (size_t)(id_end - hash) + 1;
    if (fp < id || memcmp(fresh, hash, id) != 0)
        return -EINVAL;
    const char *salt = fresh + fp;
    size_t sl = flen - fp;
    bool shape = kind == AUTH_HASH_BCRYPT   ? sl == 22
                 : kind == AUTH_HASH_SHA512 ? sl >= 1 && sl <= 16
                                            : sl >= 1 && sl <= 64;
    if (!shape || !all_crypt64(salt, sl))
        return -EINVAL;
    if (hp + sl >= outsz)
        return -ENOSPC;
    memcpy(out, hash, hp);
    memcpy(out + hp, salt, sl);
    out[hp + sl] = '\0';
    return (int)(hp + sl);
}

/* Checks one prefix p[0..len): "/", or "/" and segments with no empty, "."
 * or ".." one and no trailing slash; no control bytes. */
static const char *prefix_problem(const char *p, size_t len)
{
    if (len == 0 || p[0] != '/')
        return "a prefix must start with '/'";
    if (len > AUTH_PREFIX_MAX)
        return "a prefix is too long";
    if (len == 1)
        return NULL;
    if (p[len - 1] == '/')
        return "a prefix must not end in '/'";
    size_t seg = 1;
    for (size_t i = 1; i <= len; i++) {
        if (i < len && ((unsigned char)p[i] < 0x20 || p[i] == 0x7f))
            return "a prefix must not hold control bytes";
        if (i == len || p[i] == '/') {
            size_t sl = i - seg;
            if (sl == 0 || (sl == 1 && p[seg] == '.') ||
                (sl == 2 && p[seg] == '.' && p[seg + 1] == '.'))
                return "a prefix must not have empty, '.' or '..' segments";
            seg = i + 1;
        }
    }
    return NULL;
}

int auth_rights_parse(const char *s, size_t len, struct auth_rule *rules, size_t max, size_t *n,
                      const char **why)
{
    size_t i = 0;

    *n = 0;
    if (len == 0) {
        *why = "no rights (give ro:/PREFIX, rw:/PREFIX or no:/PREFIX)";
        return -EINVAL;
    }
    while (i <= len) {
        size_t end = i;
        while (end < len && s[end] != ',')
            end++;
        const char *item = s + i;
        size_t il = end - i;
        uint8_t right;
        if (il >= 3 && memcmp(item, "ro:", 3) == 0)
            right = AUTH_READ;
        else if (il >= 3 && memcmp(item, "rw:", 3) == 0)
            right = AUTH_WRITE;
        else if (il >= 3 && memcmp(item, "no:", 3) == 0)
            right = AUTH_NONE;
        else {
            *why = "a right must be ro:/PREFIX, rw:/PREFIX or no:/PREFIX";
            return -EINVAL;
        }
        const char *p = item + 3;
        size_t pl = il - 3;
        const char *problem = prefix_problem(p, pl);
        if (problem != NULL) {
            *why = problem;
            return -EINVAL;
        }
        for (size_t k = 0; k < *n; k++)
            if (rules[k].len == pl && memcmp(rules[k].prefix, p, pl) == 0) {
                *why = "the same prefix twice";
                return -EINVAL;
            }
        if (*n == max) {
            *why = "too many prefixes on one line";
            return -EINVAL;
        }
        memcpy(rules[*n].prefix, p, pl);
        rules[*n].prefix[pl] = '\0';
        rules[*n].len = (uint16_t)pl;
        rules[*n].right = right;
        (*n)++;
        i = end + 1;
    }
    return 0;
}

int auth_parse_line(const char *line, size_t len, struct auth_entry *e, const char **why)
{
    size_t i = 0;

    if (len > 0 && line[len - 1] == '\r')
        len--;
    while (i < len && (line[i] == ' ' || line[i] == '\t'))
        i++;
    if (i == len || line[i] == '#')
        return 0;
    if (i > 0) {
        *why = "a line must not start with blanks";
        return -EINVAL;
    }
    const char *c1 = memchr(line, ':', len);
    const char *c2 = c1 ? memchr(c1 + 1, ':', len - (size_t)(c1 + 1 - line)) : NULL;
    if (c2 == NULL) {
        *why = "expected user:HASH:RIGHTS";
        return -EINVAL;
    }
    size_t ul = (size_t)(c1 - line), hl = (size_t)(c2 - c1 - 1);
    const char *hash = c1 + 1, *rights = c2 + 1;
    size_t rl = len - (size_t)(rights - line);
    bool anon = ul == 1 && line[0] == '*';

    memset(e, 0, offsetof(struct auth_entry, rules));
    if (!anon && !auth_user_valid(line, ul)) {
        *why = "a user name is 1 to 32 of A-Z a-z 0-9 . _ - (not starting with . or -), or *";
        return -EINVAL;
    }
    if (anon && hl != 0) {
        *why = "the anonymous user * takes no hash (write *::RIGHTS)";
        return -EINVAL;
    }
    if (!anon && auth_hash_kind(hash, hl) == AUTH_HASH_NONE) {
        *why = hl == 0 ? "no hash (make the line with ferry passwd)"
                       : "not a yescrypt ($y$), bcrypt ($2b$) or sha512crypt ($6$) hash: "
                         "plain passwords are refused (make the line with ferry passwd)";
        return -EINVAL;
    }
    if (auth_rights_parse(rights, rl, e->rules, AUTH_RULES_MAX, &e->nrules, why) < 0)
        return -EINVAL;
    memcpy(e->user, line, ul);
    memcpy(e->hash, hash, hl);
    return 1;
}

enum auth_right auth_rights_lookup(const struct auth_rule *rules, size_t n, const char *path,
                                   size_t len)
{
    size_t best_len = 0;
    enum auth_right best = AUTH_NONE;
    bool found = false;

    for (size_t i = 0; i < n; i++) {
        size_t pl = rules[i].len;
        bool match;
        if (pl == 1) /* "/" covers everything */
            match = true;
        else
            match = pl <= len && memcmp(rules[i].prefix, path, pl) == 0 &&
                    (pl == len || path[pl] == '/');
        if (match && (!found || pl > best_len)) {
            found = true;
            best_len = pl;
            best = (enum auth_right)rules[i].right;
        }
    }
    return best;
}

enum auth_right auth_entry_right(const struct auth_entry *e, const char *rel)
{
    size_t rl = strcmp(rel, ".") == 0 ? 0 : strlen(rel);
    size_t best_len = 0;
    enum auth_right best = AUTH_NONE;
    bool found = false;

    if (e == NULL)
        return AUTH_NONE;
    /* As auth_rights_lookup on "/" + rel, without building that string:
     * a prefix "/p" matches when p is rel or rel's start up to a '/'. */
    for (size_t i = 0; i < e->nrules; i++) {
        const struct auth_rule *r = &e->rules[i];
        size_t pl = r->len;
        bool match = pl == 1 || (pl - 1 <= rl && memcmp(r->prefix + 1, rel, pl - 1) == 0 &&
                                 (pl - 1 == rl || rel[pl - 1] == '/'));
        if (match && (!found || pl > best_len)) {
            found = true;
            best_len = pl;
            best = (enum auth_right)r->right;
        }
    }
    return best;
}

/* The better of own's and anon's rights on rel. */
static enum auth_right either_right(const struct auth_entry *own, const struct auth_entry *anon,
                                    const char *rel)
{
    enum auth_right a = auth_entry_right(anon, rel), o = auth_entry_right(own, rel);

    return o > a ? o : a;
}

bool auth_allows(const struct auth_entry *own, const struct auth_entry *anon, const char *spelled,
                 const char *real, enum auth_right need)
{
    if (either_right(own, anon, spelled) < need)
        return false;
    return real == NULL || either_right(own, anon, real) >= need;
}

enum auth_basic_result auth_basic_parse(const char *v, size_t len, char *buf, size_t bufsz,
                                        struct auth_cred *cred)
{
    static const char scheme[] = "basic";
    size_t i = 0;

    for (; i < 5; i++) {
        if (i >= len)
            return AUTH_BASIC_SCHEME;
        char ch = v[i];
        if (ch >= 'A' && ch <= 'Z')
            ch = (char)(ch - 'A' + 'a');
        if (ch != scheme[i])
            return AUTH_BASIC_SCHEME;
    }
    if (i < len && v[i] != ' ')
        return AUTH_BASIC_SCHEME; /* "Basicx" is another scheme */
    while (i < len && v[i] == ' ')
        i++;
    size_t end = len;
    while (end > i && (v[end - 1] == ' ' || v[end - 1] == '\t'))
        end--;
    if (bufsz == 0)
        return AUTH_BASIC_BAD;
    long n = lex_b64_decode(v + i, end - i, (unsigned char *)buf, bufsz - 1);
    if (n < 0)
        return AUTH_BASIC_BAD;
    if (memchr(buf, '\0', (size_t)n) != NULL)
        return AUTH_BASIC_BAD;
    const char *colon = memchr(buf, ':', (size_t)n);
    if (colon == NULL)
        return AUTH_BASIC_BAD;
    buf[n] = '\0';
    cred->user = buf;
    cred->user_len = (size_t)(colon - buf);
    cred->pass = colon + 1;
    cred->pass_len = (size_t)n - cred->user_len - 1;
    return AUTH_BASIC_OK;
}

bool auth_ct_equal(const void *a, const void *b, size_t n)
{
    const volatile unsigned char *x = a, *y = b;
    unsigned char d = 0;

    for (size_t i = 0; i < n; i++)
        d |= (unsigned char)(x[i] ^ y[i]);
    return d == 0;
}

bool auth_challenge_basic(const char *v, size_t len)
{
    bool quoted = false, at_start = true;

    for (size_t i = 0; i < len; i++) {
        char c = v[i];
        if (quoted) {
            if (c == '\\')
                i++;
            else if (c == '"')
                quoted = false;
            continue;
        }
        if (c == '"') {
            quoted = true;
            at_start = false;
        } else if (c == ',') {
            at_start = true;
        } else if (at_start && c != ' ' && c != '\t') {
            at_start = false;
            if (len - i >= 5 && strncasecmp(v + i, "basic", 5) == 0 &&
                (len - i == 5 || v[i + 5] == ' ' || v[i + 5] == '\t' || v[i + 5] == ','))
                return true;
        }
    }
    return false;
}

long auth_basic_format(const char *user, size_t ulen, const char *pass, size_t plen, char *out,
                       size_t outsz)
{
    unsigned char raw[AUTH_CRED_MAX];

    if (memchr(user, ':', ulen) != NULL)
        return -EINVAL;
    if (ulen > sizeof raw || plen > sizeof raw - ulen || ulen + plen + 1 > sizeof raw)
        return -ENOSPC;
    memcpy(raw, user, ulen);
    raw[ulen] = ':';
    memcpy(raw + ulen + 1, pass, plen);
    for (size_t i = 0; i < ulen + 1 + plen; i++)
        if (raw[i] < 0x20 || raw[i] == 0x7f)
            return -EINVAL;
    size_t n = ulen + 1 + plen;
    if (outsz < 6 + LEX_B64_LEN(n) + 1)
        return -ENOSPC;
    memcpy(out, "Basic ", 6);
    return (long)(6 + lex_b64_encode(raw, n, out + 6));
}
