#ifndef FERRY_SERVE_PAGE_PAGE_H
#define FERRY_SERVE_PAGE_PAGE_H

/* The listing page's style and scripts, the files in src/serve/page
 * embedded at build time by embed.sh, each NUL-terminated. The page sends
 * them inline, in this order: page_css in <style>, then page_upload_js and
 * page_js each in its own <script>; listing_csp allows exactly these. */
extern const char page_css[];
extern const char page_upload_js[];
extern const char page_js[];

#endif
