/*
 * ws_timer.h -- the per-child timer thread and the registry of sessions.
 *
 * Owns: one thread per httpd child that, every WS_TIMER_TICK, visits every
 * parked connection (under its lock) to send pings, enforce the ping,
 * idle and closing timeouts, retry output the network did not take, and
 * close everything with 1001 when the child is stopping gracefully.  It
 * wakes a parked connection it must close by shutting its socket down,
 * which makes mpm_event hand it back to our process_connection hook.
 * Connections on their own thread (worker/prefork) run the same timers
 * themselves; they are registered too, so that a child that exits can
 * declare every session DEAD before the connections' pools go away.
 */
#ifndef WS_TIMER_H
#define WS_TIMER_H

#include "apr_pools.h"
#include "apr_time.h"
#include "httpd.h"

#define WS_TIMER_TICK apr_time_from_msec(250)

struct ws_connection;

/* Start the thread in a child (stopped and joined by a pchild cleanup). */
void ws_timer_child_init(apr_pool_t *pchild, server_rec *s);

/* Add/remove a session (the registry holds a reference). */
void ws_timer_add(struct ws_connection *ws);
void ws_timer_remove(struct ws_connection *ws);

/* When this child was seen stopping (graceful restart/stop), else 0. */
apr_time_t ws_timer_stopping_since(void);

#endif /* WS_TIMER_H */
