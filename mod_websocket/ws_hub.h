/*
 * ws_hub.h -- the channel hub: one process per httpd, beside its children,
 * through which every channel message passes (ids, history, presence, and
 * the fan-out to each child with subscribers).  Like mod_cgid's daemon it
 * is forked by httpd's parent and listens on a local socket in
 * DefaultRuntimeDir; unlike it, it outlives graceful and hard restarts (so
 * the old generation's children and the new one's share channels, and
 * history survives), and it is restarted by the parent if it dies.
 * docs/INTERNALS.md, "Channels", says why this design.
 *
 * Owns: starting, finding and stopping the hub process (parent side), and
 * the hub's own event loop (ws_hub.c): its connections to the children
 * (one each), their bounded output queues, and routing.  What the hub
 * knows of channels is ws_hubstore's; what travels is ws_hubproto's.
 *
 * Threads and processes: the parent calls ws_hub_post_config; the hub is a
 * single-threaded process of its own; children only read the socket path.
 */
#ifndef WS_HUB_H
#define WS_HUB_H

#include "apr_pools.h"
#include "httpd.h"

/* post_config (the real configuration pass): make sure a hub of this
 * protocol version runs (start one, or keep the one a previous generation
 * started) and watch it (restart it if it dies).  APR_SUCCESS, or the
 * error (logged) if none could be started. */
apr_status_t ws_hub_post_config(apr_pool_t *pconf, server_rec *s);

/* The hub's socket path, for children (NULL before post_config or if no
 * hub could be started). */
const char *ws_hub_socket_path(void);

#endif /* WS_HUB_H */
