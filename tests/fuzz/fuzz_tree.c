/* libFuzzer target: proto/json and proto/tree, what `ferry get -r` reads
 * from a server. For any input: a JSON listing or an HTML page is read
 * without reading past its end, and every link it gives, as an entry, has
 * a local name that is not empty, ".", "..", holds no "/" and no control
 * byte; json_put_string of any bytes is valid UTF-8 that the listing
 * reader takes back as an href. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/charset.h"
#include "proto/json.h"
#include "proto/tree.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_name(const char *n)
{
    size_t len = strlen(n);

    if (len == 0 || len > TREE_NAME_MAX || strcmp(n, ".") == 0 || strcmp(n, "..") == 0 ||
        strchr(n, '/') != NULL)
        abort();
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)n[i] < 0x20 || n[i] == 0x7f)
            abort();
}

static int on_link(void *arg, const char *href, size_t len)
{
    struct tree_child c;

    (void)arg;
    if (tree_link("http://127.0.0.1:8080", "/d/", href, len, &c) == TREE_CHILD)
        check_name(c.name);
    return 0;
}

static int on_entry(void *arg, const struct json_entry *e)
{
    return on_link(arg, e->href, strlen(e->href));
}

static int same_href(void *arg, const struct json_entry *e)
{
    return strcmp(arg, e->href) == 0 ? 0 : 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exact-size copy, so ASan sees a read past the end. */
    char *in = malloc(size ? size : 1);
    char scratch[512];

    memcpy(in, data, size);
    json_listing_parse(in, size, scratch, sizeof scratch, on_entry, NULL);
    tree_html_links(in, size, scratch, sizeof scratch, on_link, NULL);
    on_link(NULL, in, size);
    (void)json_accept(in, size);

    struct buf b;
    buf_init(&b, 1 << 20);
    if (buf_puts(&b, "{\"entries\":[{\"href\":") == 0 && json_put_string(&b, in, size) == 0 &&
        buf_puts(&b, ",\"type\":\"file\"}]}") == 0) {
        if (!utf8_valid(buf_rptr(&b), buf_len(&b)))
            abort();
        /* Valid UTF-8 without NUL comes back as it was. */
        if (size < 200 && utf8_valid(in, size) && memchr(in, '\0', size) == NULL) {
            char *want = malloc(size + 1);
            memcpy(want, in, size);
            want[size] = '\0';
            if (json_listing_parse(buf_rptr(&b), buf_len(&b), scratch, sizeof scratch, same_href,
                                   want) != 0)
                abort();
            free(want);
        }
    }
    buf_free(&b);
    free(in);
    return 0;
}
