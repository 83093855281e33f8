/*
 * ws_loop.h -- mod_websocket's event loops: where WebSocket connections
 * live under mpm_event.
 *
 * Owns: a few threads per httpd child (WebSocketEventLoops), each with an
 * epoll set, that run every connection handed to them from the hand-off to
 * the end, a turn at a time (ws_io does the turn), and their own record of
 * each connection (links and flags, kept in the session's owner area).
 * mpm_event keeps such a connection SUSPENDED: it counts it (connection
 * limits, graceful stop wait for it) but neither polls it nor holds a
 * thread for it.  A loop is each of its sessions' owner (ws_owner_t):
 * other threads reach a session through its mailbox, and the session
 * wakes its loop.
 *
 * Must not: block (a loop serves thousands of connections), or touch a
 * connection owned by another loop.
 */
#ifndef WS_LOOP_H
#define WS_LOOP_H

#include "apr_pools.h"
#include "httpd.h"

#include "ws_io.h"

/* Start the loops of this child (joined by a pchild pre-cleanup, before
 * which every connection they hold is ended: on_close, then released). */
void ws_loop_child_init(apr_pool_t *pchild, server_rec *s);

/* 1 if loops are running in this process. */
int ws_loop_available(void);

/* How many event loops this child runs (0: none). */
int ws_loop_count(void);

/* From the suspend_connection hook, for a connection mpm_event has let go
 * of: a loop takes it over (round robin).  Returns 0, or -1 if no loop
 * can. */
int ws_loop_adopt(ws_io_t *io);

/* The child stops at once (stop, restart): every loop closes every
 * session it runs with 1001 now. */
void ws_loop_stop_sessions(void);

#endif /* WS_LOOP_H */
