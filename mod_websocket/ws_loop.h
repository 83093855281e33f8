/*
 * ws_loop.h -- mod_websocket's event loops: where WebSocket connections
 * live under mpm_event.
 *
 * Owns: a few threads per httpd child (WebSocketEventLoops), each with an
 * epoll set, that run every connection handed to them from the upgrade to
 * the end: reading (until EAGAIN, through httpd's connection filters, so
 * mod_ssl works), handler callbacks, writing without blocking, timers, and
 * the lingering close.  mpm_event keeps such a connection SUSPENDED: it
 * counts it (connection limits, graceful stop wait for it) but neither
 * polls it nor holds a thread for it.  When the connection ends the loop
 * destroys its pool, which closes the socket and updates mpm_event's
 * counters.
 *
 * Must not: block (a loop serves thousands of connections), or touch a
 * connection owned by another loop.  Other threads reach a connection
 * only through its mailbox (ws_session) and ws_loop_notify.
 */
#ifndef WS_LOOP_H
#define WS_LOOP_H

#include "apr_pools.h"
#include "httpd.h"

struct ws_connection;
typedef struct ws_loop ws_loop_t;

/* Timer resolution of every connection (pings, timeouts, lingering
 * closes): the loops tick this often, and so do own-thread connections. */
#define WS_TICK_MS 250


/* Start the loops of this child (joined by a pchild pre-cleanup). */
void ws_loop_child_init(apr_pool_t *pchild, server_rec *s);

/* 1 if loops are running in this process. */
int ws_loop_available(void);

/* From our process_connection hook, for a connection mpm_event is about
 * to suspend: a loop takes it over.  Returns 0, or -1 if no loop can. */
int ws_loop_adopt(struct ws_connection *ws);

/* Any thread: ws has new mail (or must be looked at); its loop will run
 * it soon. */
void ws_loop_notify(struct ws_connection *ws);

/* child_stopping, not graceful (stop, restart): every loop closes every
 * session it runs with 1001 now. */
void ws_loop_stop_sessions(void);

/* The loop thread itself: ws got output outside its own turn (a handler
 * sent to it from another connection's callback); push it at the end of
 * this round. */
void ws_loop_dirty(struct ws_connection *ws);

#endif /* WS_LOOP_H */
