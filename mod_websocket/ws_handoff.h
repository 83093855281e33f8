/*
 * ws_handoff.h -- handing an upgraded connection from mpm_event to one of
 * mod_websocket's event loops.
 *
 * Owns: the decision whether a connection can run in an event loop, the
 * "kick" input filter, and the process_connection and suspend_connection
 * hooks that take the connection from mpm_event (see docs/INTERNALS.md,
 * "The life of a connection", steps 2 and 3).  Must not: run the
 * connection (ws_io and ws_loop do).
 */
#ifndef WS_HANDOFF_H
#define WS_HANDOFF_H

#include "httpd.h"

#include "ws_io.h"

/* register_hooks: the kick filter and both hooks. */
void ws_handoff_register_hooks(void);

/* 1 if the MPM and the configuration allow event loops (to decide whether
 * to start them). */
int ws_handoff_loops_allowed(void);

/* After the 101: if io's connection can go to an event loop, prepare the
 * hand-off and return 1 (the request ends now; the hooks do the rest);
 * else 0 (run it on this thread). */
int ws_handoff_prepare(ws_io_t *io);

#endif /* WS_HANDOFF_H */
