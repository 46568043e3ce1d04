/* fate: what becomes of a request body that the handler did not read to
 * its end. Pure: the decision the file server makes once, after any
 * handler, before the response head says whether the connection stays.
 *
 * A body left unread on a keep-alive connection would be parsed as the
 * next request (request smuggling), so the answer is always one of: the
 * next request follows directly (no body, or it was read), the rest of the
 * body is read and dropped first (a known, small remainder), or the
 * connection closes after the response. */
#ifndef FERRY_PROTO_FATE_H
#define FERRY_PROTO_FATE_H

#include <stdbool.h>
#include <stdint.h>

enum fate_framing {
    FATE_NO_BODY,  /* neither Content-Length nor Transfer-Encoding (or a length of 0) */
    FATE_LENGTH,   /* Content-Length */
    FATE_CHUNKED,  /* Transfer-Encoding: chunked */
};

struct fate_input {
    enum fate_framing framing;
    uint64_t length;       /* the announced Content-Length (FATE_LENGTH) */
    uint64_t consumed;     /* body bytes the handler took off the connection */
    bool complete;         /* the handler read the body to its end (chunked: its last chunk) */
    bool expect_continue;  /* the client waits for "100 Continue" before it sends the body */
    bool continue_sent;    /* and we sent it */
    bool keep_alive;       /* the request and the server allow another request */
    uint64_t discard_max;  /* the most we read only to drop it */
};

enum fate_action {
    FATE_NEXT,    /* the next request starts right after what was read */
    FATE_DISCARD, /* read and drop fate.discard more bytes, then the next request */
    FATE_CLOSE,   /* answer with Connection: close and read no further request */
};

struct fate {
    enum fate_action action;
    uint64_t discard; /* FATE_DISCARD only */
};

/* Decides the fate of the body described by in. Every path that is not
 * certain where the next request starts closes: a chunked body not read
 * to its end, a remainder larger than discard_max, a body the client was
 * told to hold back (Expect without our 100), and any request after which
 * the connection is not kept anyway. */
struct fate fate_decide(const struct fate_input *in);

#endif
