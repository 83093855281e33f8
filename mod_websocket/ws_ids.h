/*
 * ws_ids.h -- connection ids unique across the whole server: every child
 * process and every generation, for as long as httpd's parent process
 * runs (api->conn_id, send_to, channel presence).
 *
 * An id is the child's number (taken from a counter in shared memory that
 * outlives restarts, 21 bits) times 2^32 plus the connection's number in
 * its child (32 bits): below 2^53, so a JSON number holds it exactly, and
 * the child that holds a connection can be read off its id.
 *
 * Owns: the shared counter and this child's number.  Threads: the number
 * is set once at child_init, read by any thread.
 */
#ifndef WS_IDS_H
#define WS_IDS_H

#include "apr_pools.h"
#include "httpd.h"

#include "ws_plugin_api.h"

/* post_config (the parent): the counter, made once per server. */
apr_status_t ws_ids_post_config(server_rec *s);

/* child_init: take this child's number. */
void ws_ids_child_init(void);

/* This child's number (1 .. 2^21-1). */
unsigned int ws_ids_child(void);

/* The server-wide id of this child's connection number local. */
ws_connid_t ws_ids_conn(unsigned long local);

/* The child number inside a connection id. */
unsigned int ws_ids_child_of(ws_connid_t id);

#endif /* WS_IDS_H */
