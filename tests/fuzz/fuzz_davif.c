/* libFuzzer target: proto/davif, the If header a peer sends, and
 * proto/davlock's lock line. For any input: davif_parse returns 0,
 * -EINVAL or -E2BIG; a parse stays within its bounds and every result
 * points inside the input; evaluating it asks only about its own tags and
 * tokens; a lock line that parses formats back to one that parses to the
 * same lock. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/davif.h"
#include "proto/davlock.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *in_lo, *in_hi;

static void inside(struct http_str s)
{
    if (s.p != NULL && (s.p < in_lo || s.p + s.len > in_hi))
        abort();
}

static bool f_token(void *arg, struct http_str tag, struct http_str token)
{
    (void)arg;
    inside(tag);
    inside(token);
    return token.len % 2 == 0;
}

static bool f_etag(void *arg, struct http_str tag, char *out, size_t outsz)
{
    (void)arg;
    inside(tag);
    if (outsz < 4)
        abort();
    memcpy(out, "\"a\"", 4);
    return tag.p == NULL || tag.len % 3 != 0;
}

static const struct davif_ops ops = {.has_token = f_token, .etag = f_etag};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exact-size copy, so ASan sees a read past the end. */
    char *in = malloc(size ? size : 1);
    struct davif h;

    memcpy(in, data, size);
    in_lo = in;
    in_hi = in + size;
    int rc = davif_parse(in, size, &h);
    if (rc != 0 && rc != -EINVAL && rc != -E2BIG)
        abort();
    if (rc == 0) {
        if (h.nlists == 0 || h.nlists > DAVIF_MAX_LISTS || h.nconds > DAVIF_MAX_CONDS)
            abort();
        for (size_t l = 0; l < h.nlists; l++) {
            if (h.lists[l].n == 0 || h.lists[l].first + h.lists[l].n > h.nconds)
                abort();
            inside(h.lists[l].tag);
        }
        for (size_t k = 0; k < h.nconds; k++) {
            inside(h.conds[k].text);
            if (h.conds[k].text.len == 0)
                abort();
        }
        (void)davif_eval(&h, &ops, NULL);
        if (h.nconds > 0 && !h.conds[0].etag &&
            !h.conds[0].not &&!davif_submits(&h, h.conds[0].text.p, h.conds[0].text.len))
            abort();
    }
    struct davlock l, back;
    if (davlock_parse(in, size, &l) == 0) {
        char *line = malloc(3 * size + 64);
        size_t n = davlock_format(&l, line, 3 * size + 64);
        if (n == 0 || davlock_parse(line, n - 1, &back) != 0)
            abort();
        if (strcmp(back.token, l.token) != 0 || strcmp(back.user, l.user) != 0 ||
            strcmp(back.path, l.path) != 0 || strcmp(back.owner, l.owner) != 0 ||
            back.expires != l.expires || back.timeout != l.timeout ||
            back.exclusive != l.exclusive || back.infinite != l.infinite)
            abort();
        davlock_release(&back);
        davlock_release(&l);
        free(line);
    }
    free(in);
    return 0;
}
