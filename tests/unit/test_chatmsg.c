/* Unit tests for proto/chatmsg: the broker's notices the chat client acts
 * on. Each row is a line and what it must be taken for; every line is
 * placed against a guard page so that an over-read crashes. */
#include "unit.h"

#include "proto/chatmsg.h"

struct cm_case {
    const char *name;
    const char *in;
    enum chatmsg_kind want;
    const char *old; /* RENAMED */
    const char *got; /* the name: WELCOME and RENAMED */
};

/* clang-format off */
static const struct cm_case cases[] = {
    {"welcome", "* welcome to ferry chat, 127.0.0.1:5000: /nick NAME, /who, /quit", CHATMSG_WELCOME, NULL, "127.0.0.1:5000"},
    {"welcome, IPv6", "* welcome to ferry chat, [::1]:5000: /nick NAME", CHATMSG_WELCOME, NULL, "[::1]:5000"},
    {"welcome, a name", "* welcome to ferry chat, ann: /nick NAME, /who, /quit", CHATMSG_WELCOME, NULL, "ann"},
    {"welcome, empty name", "* welcome to ferry chat, : /nick", CHATMSG_OTHER, NULL, NULL},
    {"welcome, no colon", "* welcome to ferry chat, ann", CHATMSG_OTHER, NULL, NULL},
    {"welcome, a colon without a space", "* welcome to ferry chat, ann:x", CHATMSG_OTHER, NULL, NULL},
    {"welcome, a space in the name", "* welcome to ferry chat, a b: x", CHATMSG_OTHER, NULL, NULL},
    {"renamed", "* ann is now bob", CHATMSG_RENAMED, "ann", "bob"},
    {"renamed from an address", "* [::1]:5000 is now bob", CHATMSG_RENAMED, "[::1]:5000", "bob"},
    {"renamed, empty new name", "* ann is now ", CHATMSG_OTHER, NULL, NULL},
    {"renamed, trailing words", "* ann is now bob and more", CHATMSG_OTHER, NULL, NULL},
    {"a message that looks alike", "ann: * ann is now bob", CHATMSG_OTHER, NULL, NULL},
    {"joined", "* ann joined", CHATMSG_OTHER, NULL, NULL},
    {"refused", "* cannot take that name: 1 to 32 visible characters, no ':', not in use", CHATMSG_REFUSED, NULL, NULL},
    {"refused on another broker", "* cannot take that name: in use on another broker", CHATMSG_REFUSED, NULL, NULL},
    {"refused, cut", "* cannot take that nam", CHATMSG_OTHER, NULL, NULL},
    {"star alone", "*", CHATMSG_OTHER, NULL, NULL},
    {"empty", "", CHATMSG_OTHER, NULL, NULL},
};
/* clang-format on */

static void test_classify(void **state)
{
    const struct cm_case *c = *state;
    size_t len = strlen(c->in);
    struct guard g;
    struct chatmsg m;

    guard_open(&g, len);
    enum chatmsg_kind k = chatmsg_classify(guard_put(&g, c->in, len), len, &m);
    if (k != c->want || m.kind != k)
        fail_msg("%s: kind %d, want %d", c->name, k, c->want);
    if (c->got != NULL && (m.name_len != strlen(c->got) || memcmp(m.name, c->got, m.name_len) != 0))
        fail_msg("%s: name \"%.*s\", want \"%s\"", c->name, (int)m.name_len, m.name, c->got);
    if (c->old != NULL && (m.old_len != strlen(c->old) || memcmp(m.old, c->old, m.old_len) != 0))
        fail_msg("%s: old name \"%.*s\", want \"%s\"", c->name, (int)m.old_len, m.old, c->old);
    guard_close(&g);
}

int main(void)
{
    static struct unit_list l;

    UNIT_ADD_ROWS(&l, cases, test_classify);
    return unit_run("chatmsg", &l);
}
