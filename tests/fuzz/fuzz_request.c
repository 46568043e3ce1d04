/* libFuzzer target: what a hostile client can send the server. A request
 * head is parsed and analysed, its target turned into a path beneath the
 * root and its Range read against a file size, and the invariants the
 * server relies on are checked (abort on a breach). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/http.h"
#include "proto/path.h"
#include "proto/range.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    struct http_request req;
    struct http_info info;
    int status = 0;

    ssize_t h = http_parse_request(buf, size, &req, &status);
    if (h <= 0)
        return 0;
    if ((size_t)h > size)
        abort();
    /* A head is taken only when every line ends in CR LF: no bare CR, no
     * bare LF (issue 8). */
    for (size_t i = 0; i < (size_t)h; i++)
        if ((buf[i] == '\r' && (i + 1 >= (size_t)h || buf[i + 1] != '\n')) ||
            (buf[i] == '\n' && (i == 0 || buf[i - 1] != '\r')))
            abort();
    for (size_t i = 0; i < req.nheaders; i++) {
        struct http_str n = req.headers[i].name, v = req.headers[i].value;
        if (n.len == 0 || memchr(n.p, ' ', n.len) || memchr(n.p, '\t', n.len) ||
            memchr(n.p, ':', n.len))
            abort();
        for (size_t k = 0; k < v.len; k++)
            if (((unsigned char)v.p[k] < 0x20 && v.p[k] != '\t') || v.p[k] == 0x7f)
                abort();
    }
    int st = http_analyse(&req, &info);
    if (st != 0 && st != 400 && st != 501)
        abort();
    if (st != 0)
        return 0;
    /* Framing taken is one of: none, one Content-Length, or exactly one
     * Transfer-Encoding: chunked in HTTP/1.1 without Content-Length. */
    if (info.te_present) {
        size_t te = 0;
        for (size_t i = 0; i < req.nheaders; i++)
            if (http_str_ieq(req.headers[i].name.p, req.headers[i].name.len, "transfer-encoding")) {
                te++;
                if (!http_str_ieq(req.headers[i].value.p, req.headers[i].value.len, "chunked"))
                    abort();
            }
        if (te != 1 || !info.chunked || info.content_length != -1 || req.minor != 1)
            abort();
    } else if (info.chunked) {
        abort();
    }
    char path[4096];
    unsigned flags = 0;
    long n = path_from_target(req.target.p, req.target.len, path, sizeof path, &flags);
    if (n >= 0) {
        if ((size_t)n >= sizeof path || strlen(path) != (size_t)n || path[0] == '/')
            abort();
        /* Normalised: no empty, "." or ".." segment ("." alone is the root). */
        for (const char *p = path;;) {
            const char *slash = strchr(p, '/');
            size_t len = slash ? (size_t)(slash - p) : strlen(p);
            if (len == 0 || (len == 2 && p[0] == '.' && p[1] == '.') ||
                (len == 1 && p[0] == '.' && strcmp(path, ".") != 0))
                abort();
            if (slash == NULL)
                break;
            p = slash + 1;
        }
    }
    if (info.range.p != NULL) {
        struct range r;
        uint64_t sizes[] = {0, 1, 1000, (uint64_t)6 << 30};
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
            if (range_parse(info.range.p, info.range.len, sizes[i], &r) == RANGE_ONE &&
                (r.first > r.last || r.last >= sizes[i]))
                abort();
    }
    return 0;
}
