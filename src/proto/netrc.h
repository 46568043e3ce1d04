/* netrc: the ~/.netrc file of ftp, curl and wget, read for a login. Pure:
 * no I/O, no allocation; the text need not be NUL-terminated.
 *
 *   machine NAME     starts the entry for host NAME
 *   default          starts the entry for any host (meant to be last)
 *   login NAME       password PW       the entry's credentials
 *   account X        skipped
 *   macdef NAME      a macro: skipped with its body, to the first empty line
 *
 * Tokens are separated by white space. A token may be double-quoted, with
 * \" \\ \n \r \t escapes inside (as curl reads it). A token that begins
 * with '#' starts a comment to the end of its line. */
#ifndef FERRY_PROTO_NETRC_H
#define FERRY_PROTO_NETRC_H

#include <stdbool.h>
#include <stddef.h>

#define NETRC_FIELD_MAX 256 /* bytes of a token, with its NUL */

struct netrc_entry {
    bool has_login, has_password;
    char login[NETRC_FIELD_MAX];
    char password[NETRC_FIELD_MAX];
};

/* Finds the credentials for host in text[0..len): the first entry, in the
 * file's order, that is "machine HOST" (ASCII case-insensitive) or
 * "default", and that, when login is not NULL, has no login or that one.
 * Returns 1 with *e filled, 0 when no entry fits (e is zeroed), -EINVAL
 * for a keyword without its value or an unterminated quote, -ENAMETOOLONG
 * for a token of NETRC_FIELD_MAX bytes or more. */
int netrc_lookup(const char *text, size_t len, const char *host, const char *login,
                 struct netrc_entry *e);

#endif
