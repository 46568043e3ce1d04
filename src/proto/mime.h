/* mime: file name extension to media type, from mime.types text. */
#ifndef FERRY_PROTO_MIME_H
#define FERRY_PROTO_MIME_H

#include <stddef.h>

struct mime_entry;

struct mime_table {
    struct mime_entry *slots; /* open addressing, power-of-two size */
    size_t size, used;
    char *text; /* owned copy of the mime.types text the entries point into */
};

/* Builds a table from mime.types text (lines "type ext ext...", # comments),
 * plus built-in types for common extensions the text does not name. text may
 * be NULL. The table keeps its own copy. Returns 0 or -ENOMEM. */
int mime_table_init(struct mime_table *t, const char *text, size_t len);
void mime_table_free(struct mime_table *t);

/* The media type for a file name, by its extension (ASCII case ignored);
 * "application/octet-stream" when unknown. The string lives in the table. */
const char *mime_lookup(const struct mime_table *t, const char *name, size_t len);

#endif
