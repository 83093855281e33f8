/*
 * ws_accesslog.h -- one access-log line per WebSocket session, written
 * when it ends, the same under every MPM.
 *
 * httpd logs the upgrade request itself (status 101) when its handler
 * returns: at the upgrade under mpm_event's loops, at the session's end
 * with a thread per connection.  This adds the session's own line, through
 * mod_log_config's CustomLog/TransferLog of the request's server (so every
 * LogFormat and env= condition applies), as a request like the upgrade:
 * the same request line, headers, client and user, status 101, %t when
 * the session opened, %D/%T its duration, %b the bytes sent, and these
 * variables (%{NAME}e):
 *
 *   WS_SESSION      the session's id (ws_connid_t, decimal): set only on
 *                   this line, so `env=WS_SESSION` / `env=!WS_SESSION`
 *                   tell the two lines apart
 *   WS_DURATION     seconds, with milliseconds ("12.345")
 *   WS_CLOSE_CODE   the close code (1006: no closing handshake)
 *   WS_CLOSE_REASON the close reason, if any
 *   WS_CLOSED_BY    client or server (whose close frame came first), or
 *                   none
 *   WS_MSGS_IN, WS_MSGS_OUT, WS_BYTES_IN, WS_BYTES_OUT
 *                   messages and bytes on the wire, each way
 *   WS_PROTOCOL     the agreed subprotocol, if any
 *   WS_COMPRESSION  the agreed Sec-WebSocket-Extensions, if any
 *
 * plus the upgrade request's own environment (SetEnvIf and the like).
 *
 * Threads: prepare on the upgrade's thread; write on the thread that ends
 * the session (a loop or the request's worker), while its connection is
 * still there.
 */
#ifndef WS_ACCESSLOG_H
#define WS_ACCESSLOG_H

#include "httpd.h"

#include "ws_session.h"

/* At the 101, its headers set but not yet sent (httpd clears them when
 * it sends them): keep what the line needs of r (the request's pool will
 * be gone by then) in one malloc'd block held by ws.  Nothing if memory
 * ran out (the line is not written; logged at warn). */
void ws_accesslog_prepare(ws_session_t *ws, request_rec *r);

/* ws has ended (ws_session_end): write its line, once, as a request on c
 * (its connection, not yet closed or destroyed). */
void ws_accesslog_write(ws_session_t *ws, conn_rec *c);

#endif /* WS_ACCESSLOG_H */
