#include "get/pipeq.h"

#include <errno.h>
#include <string.h>

void pq_clear(struct pq *q)
{
    q->n = 0;
    q->next = 0;
}

int pq_len(const struct pq *q)
{
    return q->n;
}

bool pq_full(const struct pq *q)
{
    return q->n >= PQ_MAX;
}

int pq_push(struct pq *q, int index, int64_t have)
{
    if (q->n >= PQ_MAX)
        return -ENOBUFS;
    if (q->n > 0 && index <= q->e[q->n - 1].index)
        return -EINVAL;
    q->e[q->n++] = (struct pq_entry){.index = index, .have = have};
    return 0;
}

const struct pq_entry *pq_peek(const struct pq *q)
{
    return q->n > 0 ? &q->e[0] : NULL;
}

void pq_pop(struct pq *q)
{
    if (q->n == 0)
        return;
    memmove(q->e, q->e + 1, (size_t)(q->n - 1) * sizeof q->e[0]);
    q->n--;
}

int pq_next(const struct pq *q, int cur)
{
    return q->next > cur ? q->next : cur + 1;
}

void pq_considered(struct pq *q, int next)
{
    q->next = next;
}

enum pq_turn pq_turn(struct pq *q, int index, int64_t have)
{
    if (q->n == 0)
        return PQ_SEND;
    if (q->e[0].index != index)
        return PQ_BREAK;
    bool same = q->e[0].have == have;
    pq_pop(q);
    return same ? PQ_TAKE : PQ_BREAK;
}

bool pq_drop(struct pq *q, int index)
{
    if (q->n == 0 || q->e[0].index != index)
        return false;
    pq_pop(q);
    return true;
}

int pq_break(struct pq *q)
{
    int lost = q->n;

    pq_clear(q);
    return lost;
}
