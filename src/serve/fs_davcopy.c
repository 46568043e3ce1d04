/* COPY and MOVE (RFC 4918 §9.8, §9.9).
 * Not built yet: answers 501 until the WebDAV work lands (issue 18). */
#include "serve/fs.h"

void fs_dav_copymove(struct conn *c, const struct http_request *req, const struct http_info *info,
                     const struct fs_dav_target *t)
{
    (void)req;
    (void)info;
    (void)t;
    fs_respond_page(c, 501, NULL, NULL, "This WebDAV method is not built yet.");
}
