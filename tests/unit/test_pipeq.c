/* get/pipeq: the pipelining queue, as a table of scripts. Each row runs a
 * sequence of operations on an empty queue and checks what each returns. */
#include "unit.h"

#include <errno.h>
#include <stdio.h>

#include "get/pipeq.h"

enum op { END = 0, PUSH, TURN, DROP, BREAK, LEN, PEEK, NEXT, CONSIDERED, FULL };

struct step {
    enum op op;
    int index;    /* PUSH, TURN, DROP, PEEK (expected index, -1: empty), NEXT (cur), CONSIDERED */
    int64_t have; /* PUSH, TURN */
    int want;     /* the return value expected */
};

struct script {
    const char *name;
    struct step steps[40];
};

#define FILL16 \
    {PUSH, 1, 0, 0}, {PUSH, 2, 0, 0}, {PUSH, 3, 0, 0}, {PUSH, 4, 0, 0}, {PUSH, 5, 0, 0}, \
    {PUSH, 6, 0, 0}, {PUSH, 7, 0, 0}, {PUSH, 8, 0, 0}, {PUSH, 9, 0, 0}, {PUSH, 10, 0, 0}, \
    {PUSH, 11, 0, 0}, {PUSH, 12, 0, 0}, {PUSH, 13, 0, 0}, {PUSH, 14, 0, 0}, {PUSH, 15, 0, 0}, \
    {PUSH, 16, 0, 0}

static const struct script scripts[] = {
    {"empty: every turn sends", {{LEN, 0, 0, 0}, {PEEK, -1, 0, 0}, {TURN, 0, 0, PQ_SEND},
                                 {TURN, 5, 100, PQ_SEND}, {DROP, 0, 0, false}}},
    {"answers are taken in order",
     {{PUSH, 1, 0, 0}, {PUSH, 2, 0, 0}, {PUSH, 3, 0, 0}, {LEN, 0, 0, 3}, {PEEK, 1, 0, 0},
      {TURN, 1, 0, PQ_TAKE}, {TURN, 2, 0, PQ_TAKE}, {PEEK, 3, 0, 0}, {TURN, 3, 0, PQ_TAKE},
      {LEN, 0, 0, 0}, {TURN, 4, 0, PQ_SEND}}},
    {"the range asked must be the range wanted",
     {{PUSH, 1, 500, 0}, {PUSH, 2, 0, 0}, {TURN, 1, 0, PQ_BREAK}, {LEN, 0, 0, 1},
      {PEEK, 2, 0, 0}}},
    {"the same range is taken", {{PUSH, 1, 500, 0}, {TURN, 1, 500, PQ_TAKE}, {LEN, 0, 0, 0}}},
    {"a URL not sent ahead breaks a queue of others",
     {{PUSH, 2, 0, 0}, {PUSH, 3, 0, 0}, {TURN, 1, 0, PQ_BREAK}, {LEN, 0, 0, 2},
      {BREAK, 0, 0, 2}, {LEN, 0, 0, 0}, {TURN, 1, 0, PQ_SEND}}},
    {"capacity is 16", {FILL16, {FULL, 0, 0, true}, {LEN, 0, 0, 16}, {PUSH, 17, 0, -ENOBUFS},
                        {TURN, 1, 0, PQ_TAKE}, {FULL, 0, 0, false}, {PUSH, 17, 0, 0},
                        {LEN, 0, 0, 16}}},
    {"break empties a full queue and the cursor",
     {FILL16, {CONSIDERED, 17, 0, 0}, {NEXT, 0, 0, 17}, {BREAK, 0, 0, 16}, {LEN, 0, 0, 0},
      {PEEK, -1, 0, 0}, {NEXT, 0, 0, 1}, {TURN, 1, 0, PQ_SEND}}},
    {"order only goes forward",
     {{PUSH, 3, 0, 0}, {PUSH, 3, 0, -EINVAL}, {PUSH, 2, 0, -EINVAL}, {PUSH, 4, 0, 0},
      {LEN, 0, 0, 2}}},
    {"a failed URL at the head is dropped and the connection must go",
     {{PUSH, 1, 0, 0}, {PUSH, 2, 0, 0}, {DROP, 2, 0, false}, {DROP, 1, 0, true}, {LEN, 0, 0, 1},
      {PEEK, 2, 0, 0}}},
    {"the cursor never goes back",
     {{NEXT, 4, 0, 5}, {CONSIDERED, 9, 0, 0}, {NEXT, 4, 0, 9}, {NEXT, 9, 0, 10},
      {NEXT, 12, 0, 13}}},
    {"pop on empty does nothing", {{TURN, 1, 0, PQ_SEND}, {BREAK, 0, 0, 0}, {LEN, 0, 0, 0}}},
};

static void run_script(void **state)
{
    const struct script *s = *state;
    struct pq q;
    const struct pq_entry *e;

    memset(&q, 0x5a, sizeof q);
    pq_clear(&q);
    for (size_t i = 0; i < ARRAY_LEN(s->steps) && s->steps[i].op != END; i++) {
        const struct step *st = &s->steps[i];
        int got = 0;
        switch (st->op) {
        case PUSH: got = pq_push(&q, st->index, st->have); break;
        case TURN: got = (int)pq_turn(&q, st->index, st->have); break;
        case DROP: got = pq_drop(&q, st->index); break;
        case BREAK: got = pq_break(&q); break;
        case LEN: got = pq_len(&q); break;
        case FULL: got = pq_full(&q); break;
        case NEXT: got = pq_next(&q, st->index); break;
        case CONSIDERED: pq_considered(&q, st->index); got = st->want; break;
        case PEEK:
            e = pq_peek(&q);
            got = e ? e->index : -1;
            if (got != st->index)
                fail_msg("%s, step %zu: peek gave %d, want %d", s->name, i, got, st->index);
            continue;
        case END: break;
        }
        if (got != st->want)
            fail_msg("%s, step %zu (op %d): got %d, want %d", s->name, i, (int)st->op, got,
                     st->want);
    }
}

/* The entries keep the range each request asked for, in order. */
static void test_entries_keep_their_ranges(void **state)
{
    struct pq q;

    pq_clear(&q);
    for (int i = 0; i < PQ_MAX; i++)
        assert_int_equal(pq_push(&q, i + 1, (int64_t)i * 1000), 0);
    for (int i = 0; i < PQ_MAX; i++) {
        const struct pq_entry *e = pq_peek(&q);
        assert_non_null(e);
        assert_int_equal(e->index, i + 1);
        assert_int_equal(e->have, (int64_t)i * 1000);
        assert_int_equal(pq_turn(&q, i + 1, (int64_t)i * 1000), PQ_TAKE);
    }
    assert_null(pq_peek(&q));
}

int main(void)
{
    static struct unit_list l;

    UNIT_ADD_ROWS(&l, scripts, run_script);
    unit_add(&l, "entries keep their ranges", test_entries_keep_their_ranges, NULL);
    return unit_run("pipeq", &l);
}
