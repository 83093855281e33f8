/*
 * ws_io.h -- how bytes move between the network and a session: parked
 * under mpm_event, or on the connection's own thread (see ws_io.c).
 */
#ifndef WS_IO_H
#define WS_IO_H

#include "ws_session.h"

/* Register the kick filter (from register_hooks). */
void ws_io_register_hooks(void);

/* child_init: what stopping a prefork child needs. */
void ws_io_child_init(apr_pool_t *pchild);

/* Under prefork, from before on_open until the WebSocket has ended on
 * this thread: SIGTERM and SIGHUP (httpd's immediate stop and restart,
 * whose handler runs the child's cleanups inside the signal) only make
 * the connection close with 1001 in normal context; release restores
 * httpd's handlers and, if such a signal came, raises it again (and so
 * does not return).  No-ops under other MPMs. */
void ws_io_stop_signals_catch(void);
void ws_io_stop_signals_release(void);
int ws_io_stop_signal_caught(void);

/* ws_io_loops_allowed: 1 if the MPM and the configuration allow event
 * loops (to decide whether to start them); ws_io_uses_loops: 1 if they
 * run in this process. */
int ws_io_loops_allowed(void);
int ws_io_uses_loops(void);

/* After the 101: run the session.  Returns 1 if it goes to an event loop
 * (the request ends now; process_connection hands it over), 0 if it ran
 * on this thread and is over. */
int ws_io_run(ws_session_t *ws, request_rec *r);

/* The process_connection hook: suspends an upgraded connection in
 * mpm_event; the suspend_connection hook then hands it to a loop. */
int ws_io_process_connection(conn_rec *c);
void ws_io_suspend_connection(conn_rec *c, request_rec *r);

/* Event loop side (ws_loop.c calls these on the loop's thread).  Each
 * returns 1 to keep the connection (poll for input, and for output while
 * ws->out_pending or lingering), 0 when it may be released. */
int ws_io_adopted(ws_session_t *ws);
int ws_io_turn(ws_session_t *ws, int readable, apr_time_t now);
int ws_io_tick(ws_session_t *ws, apr_time_t now);
/* The child is stopping: close with 1001, best effort. */
void ws_io_goodbye(ws_session_t *ws);
/* The child is exiting now: goodbye, then the session ends (on_close). */
void ws_io_finish_now(ws_session_t *ws);
/* Child exit: end a session nobody runs (handed off to a loop that has
 * stopped). */
void ws_io_end_unowned(ws_session_t *ws);
/* Destroy the connection (its pool, socket, mpm_event's accounting). */
void ws_io_release(ws_session_t *ws);

#endif /* WS_IO_H */
