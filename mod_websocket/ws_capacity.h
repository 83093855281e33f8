/*
 * ws_capacity.h -- how many WebSockets the server may hold before the
 * site's own pages starve, and refusing the ones beyond (503).
 *
 * Owns: WebSocketMaxConnections and its default, derived from the MPM's
 * own settings (what a WebSocket costs there: a thread and a connection
 * slot with a thread per connection; a connection slot under mpm_event's
 * event loops, which admit ThreadsPerChild x (1 + AsyncRequestWorkerFactor)
 * connections per child; an HTTP/2 worker for a WebSocket over HTTP/2),
 * the server-wide count of open WebSockets (all children and generations,
 * in shared memory, ws_slots), the warning when the limit is reached, and
 * the startup line saying what this configuration holds.
 *
 * Threads: acquire/release from any thread; nothing blocks.  Must not
 * touch sessions.
 */
#ifndef WS_CAPACITY_H
#define WS_CAPACITY_H

#include "httpd.h"
#include "http_config.h"

#include "ws_config.h"           /* ws_max_connections */

/* What ws_capacity_acquire says. */
typedef enum {
    WS_CAPACITY_OK = 0,         /* counted: release it when the WebSocket
                                 * ends */
    WS_CAPACITY_FULL,           /* the server holds as many as it may */
    WS_CAPACITY_H2_FULL,        /* this child's HTTP/2 workers are taken */
    WS_CAPACITY_H2_CONN_FULL    /* this HTTP/2 connection holds as many as
                                 * it can without stalling its requests */
} ws_capacity_e;

/* What a WebSocket holds of the counts (filled by a successful acquire,
 * given back to release). */
typedef struct {
    int counted;                /* in the server-wide count */
    const void *h2_conn;        /* the HTTP/2 connection it runs on, if any
                                 * (counted per connection and child) */
} ws_capacity_hold_t;

/* The most WebSockets one HTTP/2 connection may carry: mod_http2 runs at
 * most 6 of a connection's streams at once to begin with (h2_mplx.c,
 * processing_limit), and a WebSocket keeps its stream running; past this,
 * the connection's pages and other requests would wait. */
#define WS_CAPACITY_H2_PER_CONNECTION 4

/* post_config: work out the limit, make the shared count, and log (once,
 * at startup and restarts) what this configuration holds.  loops: whether
 * connections run in event loops.  Returns APR_SUCCESS or the
 * shared-memory error. */
apr_status_t ws_capacity_post_config(apr_pool_t *ptemp, server_rec *s,
                                     int loops);

/* Count one more WebSocket for r (over HTTP/2 if r's connection is a
 * stream) if the limits allow it, filling *hold.  On a refusal the reason
 * is logged at warn at most once a minute for the whole server, and
 * counted. */
ws_capacity_e ws_capacity_acquire(request_rec *r, ws_capacity_hold_t *hold);

/* The WebSocket counted by a successful acquire is over. */
void ws_capacity_release(const ws_capacity_hold_t *hold);

/* The server-wide limit (0: none) and how it was reached, as the
 * startup line says it (for the status page). */
int ws_capacity_limit(const char **why);

/* Seconds a refused client is told to wait (Retry-After). */
#define WS_CAPACITY_RETRY_AFTER "10"

#endif /* WS_CAPACITY_H */
