/*
 * ws_outq.h -- how much output may wait for one connection, and what
 * happens to a message beyond that: WebSocketMaxQueuedOutput and
 * WebSocketQueueOverflow, pure.
 *
 * Owns: the count of bytes waiting on the network side (handed to the
 * engine, not yet written), the limit, the overflow policy, and the count
 * of messages dropped.  The bytes waiting as mail are the mailbox's: the
 * caller passes them in.
 *
 * Threads: ws_outq_admit runs under the session's lock; the network count
 * is atomic (the owner changes it, any thread reads it).  Must not: log,
 * send, or close anything itself -- it decides, the session acts.
 */
#ifndef WS_OUTQ_H
#define WS_OUTQ_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    size_t limit;               /* WebSocketMaxQueuedOutput, bytes */
    int close_on_overflow;      /* WebSocketQueueOverflow Close */
    size_t net_bytes;           /* atomic: with the engine/network */
    uint32_t dropped;           /* atomic: messages refused */
    int overflowed;             /* (session lock) the policy was applied */
} ws_outq_t;

/* What becomes of a message of len bytes. */
typedef enum {
    WS_OUTQ_OK = 0,             /* queue it */
    WS_OUTQ_DROP,               /* refuse it (WS_EQUEUE), counted */
    WS_OUTQ_DROP_CLOSE          /* refuse it, and close the connection with
                                 * 1008 (once per connection) */
} ws_outq_verdict_e;

void ws_outq_init(ws_outq_t *q, size_t limit, int close_on_overflow);

/*
 * May a message of len bytes join mail_bytes of mail and what waits on the
 * network?  A message always fits an empty queue (so the limit never
 * refuses a message by its size alone); beyond the limit it is dropped
 * and counted, and the first overflow of a WebSocketQueueOverflow Close
 * connection also closes it.  *first_drop is set to 1 for the
 * connection's first drop (to log it once), else 0.
 */
ws_outq_verdict_e ws_outq_admit(ws_outq_t *q, size_t mail_bytes, size_t len,
                                int *first_drop);

/* The owner handed n bytes to the network side / the network took n. */
void ws_outq_net_add(ws_outq_t *q, size_t n);
void ws_outq_net_done(ws_outq_t *q, size_t n);
size_t ws_outq_net(const ws_outq_t *q);

/* Messages dropped so far. */
uint32_t ws_outq_dropped(const ws_outq_t *q);

#endif /* WS_OUTQ_H */
