/*
 * ws_stats.c -- per-child counters, shown on mod_status's page.
 */
#include "httpd.h"
#include "http_protocol.h"
#include "mod_status.h"

#include "ws_stats.h"

static apr_uint64_t counters[WS_STAT_COUNT];

static const char *const names[WS_STAT_COUNT] = {
    "WebSocketsOpen", "WebSocketsTotal", "WebSocketsInEventLoops",
    "WebSocketMessagesIn", "WebSocketMessagesOut", "WebSocketBytesOut",
    "WebSocketMessagesDropped", "WebSocketQueueOverflowCloses",
    "WebSocketPingsSent", "WebSocketDeadPeers", "WebSocketViolations",
    "WebSocketsRefusedPerAddress", "WebSocketsRefusedCapacity",
    "WebSocketSubscriptions", "WebSocketChannelPublished",
    "WebSocketChannelDelivered", "WebSocketChannelDropped"
};

void ws_stats_add(ws_stat_e which, apr_uint64_t n)
{
    __atomic_add_fetch(&counters[which], n, __ATOMIC_RELAXED);
}

apr_uint64_t ws_stats_get(ws_stat_e which)
{
    return __atomic_load_n(&counters[which], __ATOMIC_RELAXED);
}

int ws_stats_status_hook(request_rec *r, int flags)
{
    int i;

    if (flags & AP_STATUS_SHORT) {
        for (i = 0; i < WS_STAT_COUNT; i++) {
            ap_rprintf(r, "%s: %" APR_UINT64_T_FMT "\n", names[i],
                       ws_stats_get(i));
        }
        return OK;
    }
    ap_rputs("<hr>\n<h2>mod_websocket (this child process, pid ", r);
    ap_rprintf(r, "%" APR_PID_T_FMT ")</h2>\n<table>\n", getpid());
    for (i = 0; i < WS_STAT_COUNT; i++) {
        ap_rprintf(r, "<tr><td>%s</td><td>%" APR_UINT64_T_FMT "</td></tr>\n",
                   names[i], ws_stats_get(i));
    }
    ap_rputs("</table>\n", r);
    return OK;
}
