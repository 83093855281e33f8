/*
 * ws_outq.c -- output limits and the overflow policy of one connection,
 * pure (see ws_outq.h).
 */
#include "ws_outq.h"

void ws_outq_init(ws_outq_t *q, size_t limit, int close_on_overflow)
{
    q->limit = limit;
    q->close_on_overflow = close_on_overflow;
    q->net_bytes = 0;
    q->dropped = 0;
    q->overflowed = 0;
}

ws_outq_verdict_e ws_outq_admit(ws_outq_t *q, size_t mail_bytes, size_t len,
                                int *first_drop)
{
    size_t have = mail_bytes + ws_outq_net(q);

    *first_drop = 0;
    if (have == 0 || (have <= q->limit && len <= q->limit - have)) {
        return WS_OUTQ_OK;
    }
    *first_drop = __atomic_add_fetch(&q->dropped, 1, __ATOMIC_RELAXED) == 1;
    if (q->close_on_overflow && !q->overflowed) {
        q->overflowed = 1;
        return WS_OUTQ_DROP_CLOSE;
    }
    return WS_OUTQ_DROP;
}

void ws_outq_net_add(ws_outq_t *q, size_t n)
{
    __atomic_add_fetch(&q->net_bytes, n, __ATOMIC_RELAXED);
}

void ws_outq_net_done(ws_outq_t *q, size_t n)
{
    __atomic_sub_fetch(&q->net_bytes, n, __ATOMIC_RELAXED);
}

size_t ws_outq_net(const ws_outq_t *q)
{
    return __atomic_load_n(&q->net_bytes, __ATOMIC_RELAXED);
}

uint32_t ws_outq_dropped(const ws_outq_t *q)
{
    return __atomic_load_n(&q->dropped, __ATOMIC_RELAXED);
}
