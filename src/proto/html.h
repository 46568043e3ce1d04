/* html: escaping for HTML text and for URL path segments. Appends to a buf;
 * returns 0 or -errno from the buffer (-ENOBUFS past its cap). */
#ifndef FERRY_PROTO_HTML_H
#define FERRY_PROTO_HTML_H

#include <stddef.h>

#include "core/buf.h"

/* Appends s[0..len) with & < > " ' written as character references, and
 * bytes that cannot appear in HTML text (C0 controls but tab, DEL) as U+FFFD. */
int html_escape(struct buf *b, const char *s, size_t len);

/* Appends s[0..len) percent-encoded so that every byte but the unreserved
 * ones (A-Z a-z 0-9 - . _ ~) is %XX; keep_slash leaves "/" as it is. */
int url_encode(struct buf *b, const char *s, size_t len, int keep_slash);

#endif
