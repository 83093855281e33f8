/*
 * ws_addrlimit.h -- WebSocketMaxConnectionsPerAddress: how many WebSocket
 * connections each client address holds, across all child processes.
 *
 * Owns: a shared-memory table, one region per scoreboard process slot.  A
 * child writes only its own region (under a process-local lock) and reads
 * everybody's to count; a region whose owner is no longer the process in
 * that scoreboard slot is ignored, so a child that crashed leaks nothing.
 * The table lives in the process pool: it outlives graceful restarts, so
 * connections of old children still count until they end.  Must not touch
 * sessions or connections.
 */
#ifndef WS_ADDRLIMIT_H
#define WS_ADDRLIMIT_H

#include "apr_network_io.h"
#include "httpd.h"

/* Configuration: some location sets a limit (the table is only made
 * then).  Reset at each pre_config. */
void ws_addrlimit_reset(void);
void ws_addrlimit_wanted(void);

/* post_config: make the table if wanted and not made yet. */
apr_status_t ws_addrlimit_post_config(server_rec *s);

/* child_init: the lock of this child's region. */
void ws_addrlimit_child_init(apr_pool_t *pchild);

/*
 * Count one more connection from addr if fewer than limit are open:
 * returns 1 and sets *token (give it to ws_addrlimit_release(); -1 when
 * nothing was counted: no table yet, or this child's region is full), or
 * returns 0 and sets *held to the connections addr already holds.
 */
int ws_addrlimit_acquire(const apr_sockaddr_t *addr, int limit, int *token,
                         int *held);

/* The connection is over (token -1: nothing to do). */
void ws_addrlimit_release(int token);

#endif /* WS_ADDRLIMIT_H */
