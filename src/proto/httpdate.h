/* httpdate: HTTP dates (RFC 9110 section 5.6.7). Pure. */
#ifndef FERRY_PROTO_HTTPDATE_H
#define FERRY_PROTO_HTTPDATE_H

#include <stddef.h>
#include <time.h>

#define HTTPDATE_LEN 29 /* "Sun, 06 Nov 1994 08:49:37 GMT" */

/* Writes t as an IMF-fixdate and a NUL into out. */
void httpdate_format(time_t t, char out[HTTPDATE_LEN + 1]);

/* Parses IMF-fixdate, the obsolete RFC 850 form and asctime's form.
 * Returns 0 with *t set, or -EINVAL. */
int httpdate_parse(const char *s, size_t len, time_t *t);

#endif
