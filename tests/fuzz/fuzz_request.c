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
    if (http_analyse(&req, &info) != 0)
        return 0;
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
