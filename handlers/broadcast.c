/*
 * broadcast.c -- every message received on the endpoint is sent to every
 * connection on it (the sender included), with its type.  The simplest
 * fan-out: tickers, notifications, "emit to everyone".
 *
 *     WebSocketLoadHandler broadcast .../websocket/broadcast.so
 *     <Location "/broadcast">
 *         WebSocketHandler broadcast
 *     </Location>
 *
 * Threads: callbacks of different connections run concurrently, so the
 * member list has a lock.  api->send never blocks on a slow member (it
 * queues, and WebSocketMaxQueuedOutput bounds the queue), so sending while
 * holding the lock is safe.
 */
#include <pthread.h>
#include <stdlib.h>

#include "ws_plugin_api.h"

typedef struct member {
    struct member *prev, *next;
    ws_connection_t *conn;
} member_t;

static const ws_api_t *ws;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static member_t *members;

static int bc_init(const ws_api_t *api)
{
    ws = api;
    return 0;
}

static int bc_open(ws_connection_t *conn)
{
    member_t *m = calloc(1, sizeof(*m));

    if (!m) {
        return 503;
    }
    m->conn = conn;
    pthread_mutex_lock(&lock);
    m->next = members;
    if (members) {
        members->prev = m;
    }
    members = m;
    pthread_mutex_unlock(&lock);
    ws->set_data(conn, m);
    return 0;
}

static int bc_message(ws_connection_t *conn, ws_msg_type_e type,
                      const char *data, size_t len)
{
    member_t *m;

    (void)conn;
    pthread_mutex_lock(&lock);
    for (m = members; m; m = m->next) {
        /* A full queue or a closing member is that member's problem;
         * the server counts the drop. */
        ws->send(m->conn, type, data, len);
    }
    pthread_mutex_unlock(&lock);
    return 0;
}

static void bc_close(ws_connection_t *conn, int code, const char *reason)
{
    member_t *m = ws->get_data(conn);

    (void)code; (void)reason;
    if (!m) {
        return;
    }
    pthread_mutex_lock(&lock);
    if (m->prev) {
        m->prev->next = m->next;
    }
    else {
        members = m->next;
    }
    if (m->next) {
        m->next->prev = m->prev;
    }
    pthread_mutex_unlock(&lock);
    free(m);
}

WS_HANDLER_EXPORT = {
    WS_HANDLER_HEADER("broadcast"),
    NULL,                       /* check_option */
    bc_init,
    NULL,                       /* fini */
    bc_open,
    bc_message,
    bc_close,
    /* Speaks no subprotocol of its own: agree to a browser's first offer
     * (a browser that offers some needs one agreed). */
    WS_HANDLER_ANY_PROTOCOL
};
