/* libFuzzer target: proto/davdest. The input is "HOST\nDESTINATION": for
 * any input, Destination parses to one of the documented statuses; a path
 * it gives is normalised (no empty, "." or ".." segment, no NUL) and is
 * given again when its own spelling "/PATH" is parsed; Overwrite and Depth
 * of the same bytes answer within their ranges; the relation of the path to
 * itself is SAME and is refused. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/davdest.h"
#include "proto/path.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_normalised(const char *p)
{
    if (strcmp(p, ".") == 0)
        return;
    if (p[0] == '/' || p[0] == '\0')
        abort();
    for (const char *s = p; *s != '\0';) {
        const char *e = strchr(s, '/');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
            abort();
        s += n + (e ? 1 : 0);
        if (e != NULL && *s == '\0')
            abort(); /* a trailing slash */
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exact-size copy, so ASan sees a read past the end. */
    char *in = malloc(size ? size : 1);
    char out[PATH_MAX_LEN + 16], again[PATH_MAX_LEN + 16], spelled[PATH_MAX_LEN + 2];
    unsigned flags, flags2;

    memcpy(in, data, size);
    const char *nl = memchr(in, '\n', size);
    size_t hlen = nl ? (size_t)(nl - in) : 0;
    const char *dest = nl ? nl + 1 : in;
    size_t dlen = nl ? size - hlen - 1 : size;
    struct davdest_self self = {.host = nl ? in : NULL, .host_len = hlen, .tls = size % 2 == 1};

    int st = davdest_parse(dest, dlen, &self, out, PATH_MAX_LEN, &flags);
    if (st != 0 && st != 400 && st != 403 && st != 414 && st != 502)
        abort();
    if (st == 0) {
        size_t n = strlen(out);
        if (n >= PATH_MAX_LEN)
            abort();
        check_normalised(out);
        /* Spelled back as an absolute path (escaping what must be), it
         * names the same path. */
        size_t k = 0;
        spelled[k++] = '/';
        for (size_t i = 0; i < n && k + 4 < sizeof spelled; i++) {
            unsigned char c = (unsigned char)out[i];
            if (c == '%' || c == '?' || c == '#' || c <= ' ' || c >= 0x7f) {
                static const char hex[] = "0123456789ABCDEF";
                spelled[k++] = '%';
                spelled[k++] = hex[c >> 4];
                spelled[k++] = hex[c & 15];
            } else {
                spelled[k++] = (char)c;
            }
        }
        if (strcmp(out, ".") == 0)
            k = 1;
        int st2 = davdest_parse(spelled, k, &self, again, PATH_MAX_LEN, &flags2);
        if (k + 4 < sizeof spelled && (st2 != 0 || strcmp(out, again) != 0))
            abort();
        if (davdest_relation(out, out) != DAVDEST_SAME ||
            davdest_refuse(out, out, false, DAVDEST_DEPTH_0, false) != 403)
            abort();
    }
    int ow = davdest_overwrite(dest, dlen);
    if (ow != 0 && ow != 1 && ow != -22)
        abort();
    int d = davdest_depth(dest, dlen, size % 3 == 0, size % 5 == 0);
    if (d != DAVDEST_DEPTH_0 && d != DAVDEST_DEPTH_INFINITY && d != -22)
        abort();
    free(in);
    return 0;
}
