/* libFuzzer target: what a hostile server can send the client. A response
 * head is parsed and analysed; Content-Range, Content-Disposition and
 * Location are then taken the way fetch takes them, and the invariants the
 * client relies on are checked (abort on a breach). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/http.h"
#include "proto/url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    struct http_response res;
    struct http_resp_info ri;

    ssize_t h = http_parse_response(buf, size, &res);
    if (h <= 0)
        return 0;
    if ((size_t)h > size || res.nheaders > HTTP_MAX_HEADERS)
        abort();
    /* No bare CR in a head the client takes (bare LF is allowed). */
    for (size_t i = 0; i < (size_t)h; i++)
        if (buf[i] == '\r' && (i + 1 >= (size_t)h || buf[i + 1] != '\n'))
            abort();
    for (size_t i = 0; i < res.nheaders; i++) {
        struct http_str v = res.headers[i].value;
        if (res.headers[i].name.len == 0)
            abort();
        for (size_t k = 0; k < v.len; k++)
            if (((unsigned char)v.p[k] < 0x20 && v.p[k] != '\t') || v.p[k] == 0x7f)
                abort();
    }
    if (http_analyse_response(&res, &ri) < 0)
        return 0;
    if (ri.chunked && ri.content_length >= 0)
        abort(); /* framing must be one or the other */
    if (ri.chunked && res.minor == 0)
        abort(); /* Transfer-Encoding in HTTP/1.0 is faulty framing */
    if (ri.content_range.p != NULL) {
        int64_t a, b, total;
        if (http_content_range(ri.content_range, &a, &b, &total) == 0 && a >= 0 &&
            (b < a || (total >= 0 && b >= total)))
            abort();
    }
    if (ri.content_disposition.p != NULL) {
        char name[256];
        long n = http_disposition_filename(ri.content_disposition, name, sizeof name);
        if (n > 0 && ((size_t)n >= sizeof name || strlen(name) != (size_t)n || name[0] == '.' ||
                      strchr(name, '/') != NULL || strchr(name, '\\') != NULL))
            abort(); /* never a path, never hidden */
    }
    if (ri.location.p != NULL) {
        struct url base, next;
        char auth[300];
        if (url_parse("http://example.test:8080/dir/file?q=1", &base) != 0)
            abort();
        if (url_resolve(&base, ri.location.p, ri.location.len, &next) == 0) {
            if (next.path[0] != '/' || memchr(next.host, '\0', sizeof next.host) == NULL)
                abort();
            url_authority(&next, auth, sizeof auth);
            url_basename(&next, auth, sizeof auth);
        }
    }
    return 0;
}
