/* page: the sentence an error page gives (ferry serve's pages put it in
 * one <p>), for a client to show. Pure. */
#ifndef FERRY_PROTO_PAGE_H
#define FERRY_PROTO_PAGE_H

#include <stddef.h>

/* Finds the first "<p>...</p>" in body[0..n) and copies its text to out
 * (outsz > 0, NUL-terminated) when it is short (less than outsz bytes) and
 * printable ASCII with no markup: what a terminal may be shown as it is.
 * Returns its length, or 0 when there is none such. */
size_t page_reason(const char *body, size_t n, char *out, size_t outsz);

#endif
