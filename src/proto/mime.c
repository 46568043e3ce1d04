#include "proto/mime.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct mime_entry {
    const char *ext;
    size_t ext_len;
    const char *type;
};

/* Used where mime.types is missing or lacks them. */
static const char builtin[] =
    "text/html html htm\n"
    "text/css css\n"
    "text/javascript js mjs\n"
    "application/json json\n"
    "text/plain txt text log md c h py sh\n"
    "text/csv csv\n"
    "application/xml xml\n"
    "image/png png\n"
    "image/jpeg jpg jpeg\n"
    "image/gif gif\n"
    "image/webp webp\n"
    "image/svg+xml svg\n"
    "image/x-icon ico\n"
    "application/pdf pdf\n"
    "application/wasm wasm\n"
    "application/zip zip\n"
    "application/gzip gz\n"
    "application/x-tar tar\n"
    "video/mp4 mp4\n"
    "audio/mpeg mp3\n"
    "font/woff2 woff2\n";

static uint64_t hash_ext(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 'A' && c <= 'Z')
            c = (unsigned char)(c + 32);
        h = (h ^ c) * 1099511628211ull;
    }
    return h;
}

static struct mime_entry *find_slot(const struct mime_table *t, const char *ext, size_t len)
{
    size_t i = (size_t)hash_ext(ext, len) & (t->size - 1);
    while (t->slots[i].ext != NULL) {
        if (t->slots[i].ext_len == len && strncasecmp(t->slots[i].ext, ext, len) == 0)
            break;
        i = (i + 1) & (t->size - 1);
    }
    return &t->slots[i];
}

static int grow(struct mime_table *t)
{
    struct mime_table bigger = *t;

    bigger.size = t->size ? t->size * 2 : 256;
    bigger.used = 0;
    bigger.slots = calloc(bigger.size, sizeof *bigger.slots);
    if (bigger.slots == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < t->size; i++)
        if (t->slots[i].ext != NULL) {
            *find_slot(&bigger, t->slots[i].ext, t->slots[i].ext_len) = t->slots[i];
            bigger.used++;
        }
    free(t->slots);
    *t = bigger;
    return 0;
}

/* Adds each line of text[0..len), which must outlive the table; the first
 * type named for an extension wins. Type strings are NUL-terminated in place. */
static int add_text(struct mime_table *t, char *text, size_t len)
{
    size_t i = 0;

    while (i < len) {
        size_t eol = i;
        while (eol < len && text[eol] != '\n')
            eol++;
        size_t p = i;
        i = eol + 1;
        if (text[p] == '#')
            continue;
        size_t ts = p;
        while (p < eol && text[p] != ' ' && text[p] != '\t')
            p++;
        if (p == ts || p == eol)
            continue;
        text[p++] = '\0';
        while (p < eol) {
            while (p < eol && (text[p] == ' ' || text[p] == '\t' || text[p] == '\r'))
                p++;
            size_t es = p;
            while (p < eol && text[p] != ' ' && text[p] != '\t' && text[p] != '\r')
                p++;
            if (p == es)
                continue;
            if ((t->used + 1) * 2 > t->size && grow(t) < 0)
                return -ENOMEM;
            struct mime_entry *e = find_slot(t, text + es, p - es);
            if (e->ext == NULL) {
                *e = (struct mime_entry){text + es, p - es, text + ts};
                t->used++;
            }
        }
    }
    return 0;
}

int mime_table_init(struct mime_table *t, const char *text, size_t len)
{
    size_t blen = sizeof builtin - 1;

    memset(t, 0, sizeof *t);
    if (text == NULL)
        len = 0;
    /* One copy holds the file's text, a newline, then the built-ins, so
     * that the file's choice wins and the built-ins fill gaps. */
    t->text = malloc(len + 1 + blen + 1);
    if (t->text == NULL)
        return -ENOMEM;
    if (len > 0)
        memcpy(t->text, text, len);
    t->text[len] = '\n';
    memcpy(t->text + len + 1, builtin, blen + 1);
    if (grow(t) < 0 || add_text(t, t->text, len + 1 + blen) < 0) {
        mime_table_free(t);
        return -ENOMEM;
    }
    return 0;
}

void mime_table_free(struct mime_table *t)
{
    free(t->slots);
    free(t->text);
    memset(t, 0, sizeof *t);
}

const char *mime_lookup(const struct mime_table *t, const char *name, size_t len)
{
    size_t i = len;

    while (i > 0 && name[i - 1] != '.' && name[i - 1] != '/')
        i--;
    if (i == 0 || name[i - 1] != '.' || i == len || t->size == 0)
        return "application/octet-stream";
    struct mime_entry *e = find_slot(t, name + i, len - i);
    return e->ext != NULL ? e->type : "application/octet-stream";
}
