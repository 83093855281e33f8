/*
 * ws_stats.h -- per-child counters, shown on mod_status's page.
 *
 * Owns: the counters and their rendering.  Any thread may add (atomic
 * 64-bit adds); nothing here blocks.  "Nothing is lost silently": every
 * dropped message and every queue-overflow close is counted here.
 */
#ifndef WS_STATS_H
#define WS_STATS_H

#include "apr.h"
#include "httpd.h"

typedef enum {
    WS_STAT_OPEN = 0,           /* connections open now */
    WS_STAT_TOTAL,              /* connections accepted */
    WS_STAT_IN_LOOPS,           /* open and run by the event loops */
    WS_STAT_MSGS_IN,
    WS_STAT_MSGS_OUT,
    WS_STAT_BYTES_OUT,
    WS_STAT_DROPPED,            /* messages refused: output queue full */
    WS_STAT_OVERFLOW_CLOSES,    /* connections closed 1008: queue full */
    WS_STAT_PINGS,
    WS_STAT_DEAD_PEERS,         /* closed: no pong in time */
    WS_STAT_VIOLATIONS,         /* closed: protocol violation */
    WS_STAT_ADDR_REFUSED,       /* 503: WebSocketMaxConnectionsPerAddress */
    WS_STAT_CAPACITY_REFUSED,   /* 503: WebSocketMaxConnections */
    WS_STAT_SUBSCRIPTIONS,      /* channel subscriptions now */
    WS_STAT_PUBLISHED,          /* channel messages published from here */
    WS_STAT_DELIVERED,          /* channel messages to local subscribers */
    WS_STAT_CHANNEL_DROPPED,    /* publishes and sends dropped: the hub
                                 * unreachable with a full backlog, or the
                                 * target connection gone */
    WS_STAT_COUNT
} ws_stat_e;

void ws_stats_add(ws_stat_e which, apr_uint64_t n);
apr_uint64_t ws_stats_get(ws_stat_e which);

/* mod_status's status_hook. */
int ws_stats_status_hook(request_rec *r, int flags);

#endif /* WS_STATS_H */
