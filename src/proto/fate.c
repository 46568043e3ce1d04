#include "proto/fate.h"

struct fate fate_decide(const struct fate_input *in)
{
    struct fate f = {.action = FATE_CLOSE, .discard = 0};

    if (!in->keep_alive)
        return f;
    if (in->framing == FATE_NO_BODY || in->complete) {
        f.action = FATE_NEXT;
        return f;
    }
    if (in->framing != FATE_LENGTH || in->consumed > in->length)
        return f; /* a chunked remainder has no known end */
    if (in->expect_continue && !in->continue_sent)
        return f; /* the client may send the body later, or never */
    uint64_t left = in->length - in->consumed;
    if (left == 0) {
        f.action = FATE_NEXT;
    } else if (left <= in->discard_max) {
        f.action = FATE_DISCARD;
        f.discard = left;
    }
    return f;
}
