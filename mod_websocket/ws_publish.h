/*
 * ws_publish.h -- publishing to channels over plain HTTP: the
 * `websocket-publish` handler.
 *
 *     <Location "/publish">
 *         SetHandler websocket-publish
 *         WebSocketNamespace /broadcast
 *         Require local
 *     </Location>
 *
 * POST <location>/<channel> publishes the request body to <channel> of the
 * namespace (text if the Content-Type is textual -- text/\*, JSON, XML,
 * form data (curl -d), or a charset=utf-8 -- and the body is UTF-8, else
 * binary) and answers 200
 * with {"channel", "id", "subscribers"} in JSON once the hub has it; GET
 * (HEAD) answers the channel's figures.  Errors: 400 (no or bad channel
 * name), 405 (another method), 413 (a body over WebSocketMaxMessageSize),
 * 500 (no WebSocketNamespace), 503 with Retry-After (the channel hub is
 * unreachable or did not answer in 5 s).  Access is httpd's (Require...).
 *
 * Owns: the HTTP side only; ws_channels does the rest.
 */
#ifndef WS_PUBLISH_H
#define WS_PUBLISH_H

#include "httpd.h"

#include "ws_config.h"

#define WS_PUBLISH_HANDLER "websocket-publish"

int ws_publish_handle(request_rec *r, const ws_dir_conf_t *conf);

#endif /* WS_PUBLISH_H */
