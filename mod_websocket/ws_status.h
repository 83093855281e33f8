/*
 * ws_status.h -- the whole server's WebSocket figures for people and
 * machines: the `websocket-status` handler and mod_status's section.
 *
 *     <Location "/websocket-status">
 *         SetHandler websocket-status
 *         Require local
 *     </Location>
 *
 * GET (HEAD) answers an HTML page; `?json` the same figures as JSON
 * (application/json); `?refresh=N` (1..3600 s) adds a Refresh header, as
 * mod_status does.  Figures cover every child process and generation
 * (ws_stats): open connections per location, per child and in total
 * (event loops vs a thread each), messages and bytes each way, channel
 * subscriptions and messages, drops, closes by code and by side, refusals
 * by reason, uptime, and the configuration that bounds them (capacity,
 * loops, MPM limits, each location's limits).  Other methods get 405.
 * Access is httpd's (Require ...).
 *
 * Owns: rendering only.
 */
#ifndef WS_STATUS_H
#define WS_STATUS_H

#include "httpd.h"

#define WS_STATUS_HANDLER "websocket-status"

int ws_status_handle(request_rec *r);

/* mod_status's status_hook: the same totals on /server-status (and its
 * ?auto page, one "Name: value" line each). */
int ws_status_hook(request_rec *r, int flags);

#endif /* WS_STATUS_H */
