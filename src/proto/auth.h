/* auth: the pure parts of accounts and rights. Pure: no I/O, no allocation.
 *
 *   the --auth file   one account a line, "user:HASH:RIGHTS"; blank lines and
 *                     lines whose first non-blank byte is '#' are skipped
 *   HASH              a crypt(3) hash: yescrypt "$y$", bcrypt "$2b$" or
 *                     sha512crypt "$6$"; empty for the anonymous user "*"
 *   RIGHTS            comma-separated "ro:/PREFIX", "rw:/PREFIX" or
 *                     "no:/PREFIX"; the longest prefix that matches a path at
 *                     a segment boundary decides, no match is no access
 *   Basic credentials the Authorization value "Basic base64(user:password)"
 *                     (RFC 7617), with strict base64 (RFC 4648 §4: padding
 *                     required, no whitespace, unused bits zero) */
#ifndef FERRY_PROTO_AUTH_H
#define FERRY_PROTO_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AUTH_USER_MAX 32    /* bytes of a user name */
#define AUTH_HASH_MAX 160   /* bytes of a crypt hash */
#define AUTH_RULES_MAX 16   /* prefixes on one line */
#define AUTH_PREFIX_MAX 255 /* bytes of one prefix */
#define AUTH_CRED_MAX 1024  /* decoded "user:password" bytes */
#define AUTH_ANON "*"

/* What a rule grants, in order: each implies the ones before it. */
enum auth_right {
    AUTH_NONE = 0,
    AUTH_READ = 1,  /* GET, HEAD, the raw protocol */
    AUTH_WRITE = 2, /* also PUT, MKCOL, DELETE */
};

struct auth_rule {
    char prefix[AUTH_PREFIX_MAX + 1]; /* "/" or "/a/b": no trailing slash, no empty segment */
    uint16_t len;
    uint8_t right; /* enum auth_right */
};

/* One line of the file. */
struct auth_entry {
    char user[AUTH_USER_MAX + 1]; /* "*" for anonymous */
    char hash[AUTH_HASH_MAX + 1]; /* empty for "*" */
    size_t nrules;
    struct auth_rule rules[AUTH_RULES_MAX];
};

enum auth_hash_kind { AUTH_HASH_NONE, AUTH_HASH_YESCRYPT, AUTH_HASH_BCRYPT, AUTH_HASH_SHA512 };

/* Whether s[0..len) is a user name: 1 to AUTH_USER_MAX bytes of ASCII
 * letters, digits, '.', '_' and '-', not starting with '.' or '-'. "*" is
 * not a user name (it is the anonymous entry). */
bool auth_user_valid(const char *s, size_t len);

/* Which crypt(3) scheme the hash s[0..len) has the shape of, or
 * AUTH_HASH_NONE (anything else, a plain password among them). Checks the
 * prefix, the fields and their alphabet and lengths, not the hash itself. */
enum auth_hash_kind auth_hash_kind(const char *s, size_t len);

/* The length of the scheme id and cost fields that start the crypt hash or
 * setting s[0..len), with the '$' that ends them: "$y$PARAMS$", "$2b$CC$",
 * "$6$rounds=N$" or "$6$"; 0 when s starts with none of these. What
 * follows is the salt (and, in a hash, the hash proper). */
size_t auth_hash_params(const char *s, size_t len);

/* The setting of the dummy check an unknown user gets in place of the
 * account whose hash is hash[0..hlen), so that it costs the same: that
 * hash's scheme and cost fields (yescrypt's whole parameter field, bcrypt's
 * cost, sha512crypt's rounds= or its absence) followed by the salt of
 * fresh[0..flen), a setting crypt_gensalt made for the same scheme. Writes
 * it NUL-terminated to out (outsz bytes). Returns its length, or -EINVAL
 * (hash is not of a kind auth_hash_kind knows, fresh is of another scheme
 * or its salt has not the scheme's shape), or -ENOSPC. */
int auth_dummy_setting(const char *hash, size_t hlen, const char *fresh, size_t flen, char *out,
                       size_t outsz);

/* Parses RIGHTS s[0..len) into rules (max of them) and *n. Returns 0, or
 * -EINVAL with *why saying what is wrong. */
int auth_rights_parse(const char *s, size_t len, struct auth_rule *rules, size_t max, size_t *n,
                      const char **why);

/* Parses one line line[0..len) (no line end; a trailing CR is dropped).
 * Returns 1 with *e filled, 0 for a blank or comment line, or -EINVAL with
 * *why saying what is wrong. */
int auth_parse_line(const char *line, size_t len, struct auth_entry *e, const char **why);

/* The right the rules grant for path[0..len) ("/" or "/a/b", normalised):
 * that of the longest prefix equal to the path or followed in it by '/'
 * ("/incoming" covers "/incoming/x", not "/incomingX"); AUTH_NONE when no
 * rule matches. */
enum auth_right auth_rights_lookup(const struct auth_rule *rules, size_t n, const char *path,
                                   size_t len);

/* The right the rules of e grant on rel, a path beneath the root as
 * proto/path gives it ("." for the root, "a/b" beneath it): as
 * auth_rights_lookup on "/" or "/a/b". AUTH_NONE when e is NULL. */
enum auth_right auth_entry_right(const struct auth_entry *e, const char *rel);

/* The one decision on rights, which every read, write, listing entry, tar
 * member, index page and upload asks (through serve/fs_auth): whether an
 * account may have need on an object that the request spelled spelled and
 * that really is real (where the kernel finds it after every symbolic
 * link; both "." or "a/b"). own is the user's line, anon the line of "*"
 * (either NULL when absent); a user gets the better of the two on each
 * path. need must be granted on the spelling, so that nothing is reached
 * through a folder the user may not use, and on the real path, which is
 * what is acted on. real NULL asks about the spelling alone, before the
 * object is opened; it is never the last word. */
bool auth_allows(const struct auth_entry *own, const struct auth_entry *anon, const char *spelled,
                 const char *real, enum auth_right need);

/* Basic credentials, pointing into the caller's buffer. */
struct auth_cred {
    const char *user, *pass;
    size_t user_len, pass_len;
};

enum auth_basic_result {
    AUTH_BASIC_OK = 0,
    AUTH_BASIC_SCHEME = -1, /* another scheme than Basic: ask again */
    AUTH_BASIC_BAD = -2,    /* Basic, but not well formed */
};

/* Parses the Authorization value v[0..len): "Basic" (any case), one or
 * more spaces, the token, optional trailing blanks. Decodes into buf
 * (bufsz bytes; AUTH_CRED_MAX + 1 is enough) and splits at the first ':'
 * into *cred, NUL-terminating the password. A decoded NUL byte, no ':',
 * or more than bufsz - 1 bytes is AUTH_BASIC_BAD. */
enum auth_basic_result auth_basic_parse(const char *v, size_t len, char *buf, size_t bufsz,
                                        struct auth_cred *cred);

/* The client's side. True when the WWW-Authenticate value v[0..len)
 * offers the Basic scheme: "Basic" (any case) as an auth-scheme, at the
 * start or after a comma outside a quoted string, followed by a space, a
 * comma or the end. */
bool auth_challenge_basic(const char *v, size_t len);

/* Writes "Basic base64(user:pass)" (RFC 7617) into out (outsz bytes,
 * NUL-terminated). Returns its length, -EINVAL when user holds a ':' (the
 * server could not split it) or a control byte is in either, -ENOSPC when
 * out is too small. */
long auth_basic_format(const char *user, size_t ulen, const char *pass, size_t plen, char *out,
                       size_t outsz);

/* Compares a and b (n bytes each) in time that depends on n only. */
bool auth_ct_equal(const void *a, const void *b, size_t n);

#endif
