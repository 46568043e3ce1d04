#include "proto/netrc.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* Reads the next token at text[*pos..len) into tok (NETRC_FIELD_MAX
 * bytes, NUL-terminated), skipping white space and comments. Returns 1, 0
 * at the end, -EINVAL for an unterminated quote, -ENAMETOOLONG. */
static int next_token(const char *text, size_t len, size_t *pos, char *tok)
{
    size_t i = *pos, n = 0;

    for (;;) {
        while (i < len && is_space(text[i]))
            i++;
        if (i < len && text[i] == '#') {
            while (i < len && text[i] != '\n')
                i++;
            continue;
        }
        break;
    }
    if (i == len) {
        *pos = i;
        return 0;
    }
    if (text[i] == '"') {
        for (i++;; i++) {
            if (i == len)
                return -EINVAL;
            char c = text[i];
            if (c == '"')
                break;
            if (c == '\\') {
                if (++i == len)
                    return -EINVAL;
                c = text[i] == 'n' ? '\n' : text[i] == 'r' ? '\r' : text[i] == 't' ? '\t' : text[i];
            }
            if (n + 1 >= NETRC_FIELD_MAX)
                return -ENAMETOOLONG;
            tok[n++] = c;
        }
        i++;
    } else {
        for (; i < len && !is_space(text[i]); i++) {
            if (n + 1 >= NETRC_FIELD_MAX)
                return -ENAMETOOLONG;
            tok[n++] = text[i];
        }
    }
    tok[n] = '\0';
    *pos = i;
    return 1;
}

/* Moves *pos past a macro body: to after the first empty line that
 * follows the end of the current line (or to the end). */
static void skip_macro(const char *text, size_t len, size_t *pos)
{
    size_t i = *pos;

    while (i < len && text[i] != '\n')
        i++;
    while (i < len) {
        i++; /* past a '\n' */
        if (i < len && text[i] == '\n') {
            i++;
            break;
        }
        while (i < len && text[i] != '\n')
            i++;
    }
    *pos = i;
}

/* True when the entry just read (in e, its host matching or not) is the
 * one asked for. */
static bool fits(bool matching, const struct netrc_entry *e, const char *login)
{
    return matching && (login == NULL || !e->has_login || strcmp(e->login, login) == 0);
}

int netrc_lookup(const char *text, size_t len, const char *host, const char *login,
                 struct netrc_entry *e)
{
    char tok[NETRC_FIELD_MAX];
    size_t pos = 0;
    bool in_entry = false, matching = false;
    int rc;

    memset(e, 0, sizeof *e);
    for (;;) {
        rc = next_token(text, len, &pos, tok);
        if (rc < 0)
            return rc;
        bool starts = rc > 0 && (strcmp(tok, "machine") == 0 || strcmp(tok, "default") == 0);
        if (rc == 0 || starts) {
            if (in_entry && fits(matching, e, login))
                return 1;
            memset(e, 0, sizeof *e);
            if (rc == 0)
                return 0;
            in_entry = true;
            matching = tok[0] == 'd';
            if (tok[0] == 'm') {
                rc = next_token(text, len, &pos, tok);
                if (rc <= 0)
                    return rc < 0 ? rc : -EINVAL;
                matching = strcasecmp(tok, host) == 0;
            }
            continue;
        }
        bool is_login = strcmp(tok, "login") == 0, is_password = strcmp(tok, "password") == 0;
        if (!is_login && !is_password && strcmp(tok, "account") != 0 && strcmp(tok, "macdef") != 0)
            continue; /* an unknown word: skipped, as curl does */
        bool macdef = tok[0] == 'm';
        rc = next_token(text, len, &pos, tok);
        if (rc <= 0)
            return rc < 0 ? rc : -EINVAL;
        if (macdef) {
            skip_macro(text, len, &pos);
        } else if (is_login && in_entry) {
            memcpy(e->login, tok, sizeof tok);
            e->has_login = true;
        } else if (is_password && in_entry) {
            memcpy(e->password, tok, sizeof tok);
            e->has_password = true;
        }
    }
}
