/*
 * ws_snapshot.h -- the upgrade request as handlers may read it, for as
 * long as the connection lives.
 *
 * Owns: one malloc'd block holding copies of what the handler API can
 * return (path, query, authenticated user, client address, request
 * headers, cookies, the location's WebSocketHandlerOption values, the
 * client's subprotocol offers), made before on_open and read-only after:
 * readers on any thread need no lock.  The request's own pool dies at the
 * end of the upgrade request, long before a WebSocket does; an APR pool
 * per connection would cost 8 KB each.
 *
 * Must not: know requests or httpd (it is built from APR tables, so unit
 * tests build it too), or change after it is made.
 */
#ifndef WS_SNAPSHOT_H
#define WS_SNAPSHOT_H

#include <stddef.h>

#include "apr_pools.h"
#include "apr_tables.h"

typedef struct ws_snapshot ws_snapshot_t;

/* What a snapshot is made of; NULL for absent strings and tables. */
typedef struct {
    const char *path;           /* the decoded URI path (r->uri) */
    const char *query;          /* the raw query, without '?' (r->args) */
    const char *user;           /* the authenticated user (r->user) */
    const char *remote_addr;    /* the client's address as text */
    const apr_table_t *headers; /* the request headers */
    const apr_table_t *options; /* WebSocketHandlerOption, merged */
} ws_snapshot_src_t;

/* Copy src into one malloc'd block; scratch is a pool for temporary work
 * (the request's).  NULL if memory ran out. */
ws_snapshot_t *ws_snapshot_create(const ws_snapshot_src_t *src,
                                  apr_pool_t *scratch);

void ws_snapshot_free(ws_snapshot_t *snap);

/* Bytes the snapshot holds (its one block). */
size_t ws_snapshot_size(const ws_snapshot_t *snap);

const char *ws_snapshot_path(const ws_snapshot_t *snap);
const char *ws_snapshot_query(const ws_snapshot_t *snap);
const char *ws_snapshot_user(const ws_snapshot_t *snap);
const char *ws_snapshot_remote_addr(const ws_snapshot_t *snap);

/* A request header by case-insensitive name, the first if repeated
 * (httpd merged repeats with ", "); NULL if absent. */
const char *ws_snapshot_header(const ws_snapshot_t *snap, const char *name);

/* The i-th request header (0 <= i < ws_snapshot_nheaders), its value in
 * *value; NULL past the end. */
int ws_snapshot_nheaders(const ws_snapshot_t *snap);
const char *ws_snapshot_header_at(const ws_snapshot_t *snap, int i,
                                  const char **value);

/* A cookie's value by its case-sensitive name (RFC 6265 section 4.2.1:
 * "a=1; b=\"two\"", quotes removed; the first if repeated); NULL if
 * absent. */
const char *ws_snapshot_cookie(const ws_snapshot_t *snap, const char *name);

/* A WebSocketHandlerOption by case-insensitive name; NULL if unset. */
const char *ws_snapshot_option(const ws_snapshot_t *snap, const char *name);

/* The client's Sec-WebSocket-Protocol offers (RFC 9110 list elements, in
 * its order): their number, and the i-th (NULL past the end). */
int ws_snapshot_noffers(const ws_snapshot_t *snap);
const char *ws_snapshot_offer(const ws_snapshot_t *snap, int i);

#endif /* WS_SNAPSHOT_H */
