/*
 * ws_child.h -- how this httpd child process is stopping, as every
 * connection's timers need to know it.
 *
 * Owns: "is the child stopping, since when, and how" -- gracefully
 * (restart or graceful-stop: WebSocketGracefulTimeout counts from the
 * first time it is seen) or at once (stop, restart: close now) -- and the
 * reason a peer is given ("server restarting" when a new generation of
 * children takes over, else "server stopping").
 *
 * Threads: any; atomic flags, nothing blocks.  Under prefork, ws_io calls
 * ws_child_stopping from normal context after catching the signal.  Must
 * not know sessions.
 */
#ifndef WS_CHILD_H
#define WS_CHILD_H

#include "apr_pools.h"
#include "apr_time.h"

#include "ws_timers.h"

/* httpd's child_stopping hook (and prefork's caught SIGTERM/SIGHUP):
 * graceful or not. */
void ws_child_stopping(apr_pool_t *pchild, int graceful);

/* The child's stop as the timers take it, at now (the MPM is asked at
 * most once per WS_TIMER_TICK_MS: prefork's graceful stop is only seen
 * that way). */
void ws_child_stop_state(ws_timer_stop_t *out, apr_time_t now);

/* 1 once the child stops at once. */
int ws_child_stopping_now(void);

/* "server restarting" or "server stopping". */
const char *ws_child_stop_reason(void);

#endif /* WS_CHILD_H */
