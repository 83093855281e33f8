/*
 * ws_channels.h -- channels in an httpd child: the handler API's
 * subscribe, unsubscribe, publish, send_to and deliver, the child's
 * connection to the channel hub (ws_hub.h), and the fan-out of what the
 * hub delivers to this child's subscribers.
 *
 * Every publish goes through the hub, the publisher's own child included:
 * the hub gives each message its id and its place in the channel's order,
 * so every subscriber everywhere sees one order (each publisher's order
 * kept), and a replay from the history joins the live messages without a
 * gap or a repeat (see "Subscribing" in ws_channels.c).
 *
 * Owns: this child's table of subscriptions (channel -> subscribers; each
 * session's own list in its channels area), the queue of frames for the
 * hub (bounded: WS_CHANNELS_BACKLOG while the hub is unreachable), the
 * channel thread (one per child: reads the hub, delivers, reconnects),
 * and the HTTP publisher's wait for the hub's answer.
 *
 * Threads and locks: the API may be called from any thread.  Two locks,
 * taken in this order: the table's, then the queue's; a session's lock may
 * be taken under the table's (delivery), never the other way round.  No
 * handler callback runs with either held.  docs/INTERNALS.md, "Locks".
 */
#ifndef WS_CHANNELS_H
#define WS_CHANNELS_H

#include "apr_pools.h"
#include "httpd.h"

#include "ws_plugin_api.h"
#include "ws_session.h"

/* Most frames queued for the hub while it is unreachable, in bytes;
 * publishes beyond are dropped and counted. */
#define WS_CHANNELS_BACKLOG (16u * 1024 * 1024)

/* Most channels one connection may subscribe to (WS_ELIMIT beyond). */
#define WS_CHANNELS_PER_CONN 255

/* Largest presence label, bytes. */
#define WS_CHANNELS_LABEL_MAX 255

/* child_init: connect to the hub (in the background: subscriptions and
 * publishes made before it answers wait for it) and start the channel
 * thread; stopped by a cleanup of pchild. */
void ws_channels_child_init(apr_pool_t *pchild, server_rec *s);

/* ws_api_t's channel functions (see ws_plugin_api.h for each). */
int ws_channels_subscribe(ws_session_t *ws, const char *channel,
                          const ws_subscribe_options_t *opts);
int ws_channels_unsubscribe(ws_session_t *ws, const char *channel);
int ws_channels_publish(ws_location_t *loc, const char *channel,
                        ws_msg_type_e type, const void *data, size_t len,
                        ws_connid_t exclude);
int ws_channels_send_to(ws_connid_t id, ws_msg_type_e type,
                        const void *data, size_t len);
int ws_channels_deliver(ws_delivery_t *d, ws_msg_type_e type,
                        const void *data, size_t len);

/* What the hub says of a channel (HTTP publishing). */
typedef struct {
    ws_msgid_t id;              /* publish: the message's; info: the
                                 * newest (0: none) */
    unsigned long subscribers;  /* server-wide, when it was published */
    unsigned long members;      /* info: with a presence label */
    unsigned long kept;         /* info: messages in the history */
    ws_msgid_t oldest;          /* info: the oldest kept (0: none) */
} ws_channel_info_t;

/*
 * For a worker thread serving HTTP (websocket-publish): publish to
 * channel (channel_len bytes) of namespace ns, keeping history_count
 * messages for history_age, and wait up to timeout for the hub's answer.
 * APR_SUCCESS with *out filled; APR_ECONNREFUSED (the hub is unreachable:
 * nothing published), APR_TIMEUP (no answer in time: it may have been
 * published), APR_EINVAL (bad name, text not UTF-8, too large).
 */
apr_status_t ws_channels_publish_wait(const char *ns, const char *channel,
                                      size_t channel_len, ws_msg_type_e type,
                                      const void *data, size_t len,
                                      int history_count,
                                      apr_interval_time_t history_age,
                                      apr_interval_time_t timeout,
                                      ws_channel_info_t *out);

/* The same for a channel's figures (nothing is published). */
apr_status_t ws_channels_info_wait(const char *ns, const char *channel,
                                   size_t channel_len,
                                   apr_interval_time_t timeout,
                                   ws_channel_info_t *out);

#endif /* WS_CHANNELS_H */
