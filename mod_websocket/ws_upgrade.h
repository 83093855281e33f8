/*
 * ws_upgrade.h -- turning an HTTP request into a WebSocket connection.
 */
#ifndef WS_UPGRADE_H
#define WS_UPGRADE_H

#include "httpd.h"
#include "ws_config.h"

/* The content handler for a location with a WebSocketHandler: answers the
 * handshake and, in this version, serves the connection until it ends.
 * Returns OK, DECLINED (plain request, WebSocketPlainRequests Serve) or an
 * HTTP status. */
int ws_upgrade_handle(request_rec *r, const ws_dir_conf_t *conf);

#endif /* WS_UPGRADE_H */
