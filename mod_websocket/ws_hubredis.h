/*
 * ws_hubredis.h -- channels over Redis: the hub's link to a Redis server
 * shared by several httpd servers (WebSocketChannels redis://...).
 *
 * Each httpd's hub (ws_hub.c) keeps routing to its own children as with
 * the embedded store; what must hold across servers lives in Redis:
 *   <prefix>i:<key>   hash: last (the channel's last id), lost (the newest
 *                     id no longer in history), age (history age, us)
 *   <prefix>h:<key>   list: the history, oldest first, "id|time|type|conn|
 *                     data"; trimmed to the count, expires with the age
 *   <prefix>n:<key>   hash: server id -> its subscribers of the channel
 *   <prefix>p:<key>   sorted set: presence, "server|conn|label" scored by
 *                     its expiry (ms); refreshed by its server
 *   <prefix>s:<id>    a live server (expires 10 s after its last beat)
 *   <prefix>c:<key>   the pub/sub channel every message and presence event
 *                     of the channel goes through, "event|id|time|type|
 *                     conn|exclude|subscribers|origin|seq|data"
 * (<key> is the channel's namespace, NUL, name).  Publishing, joining,
 * leaving and the channel facts are Lua scripts, so each is atomic: ids
 * are Redis-time microseconds made strictly increasing per channel, and
 * every server sees a channel's messages in one order.  A hub holds one
 * pattern subscription (<prefix>c:*) and one command connection, with
 * hiredis on the hub's own epoll loop; nothing waits on Redis.
 *
 * Outage: a command unanswered for the timeout, or a lost connection,
 * ends both connections; until Redis answers again (reconnect with a
 * backoff of 100 ms doubling to 1 s) publishes reach this server's
 * subscribers only (counted), one line at warn says so, and one more when
 * it is back.  A publish whose fate is unknown when the link fails is
 * delivered here unless its echo from Redis was already seen: never
 * twice, never silently lost here.
 *
 * Threads: the hub's only thread.  Owns: both hiredis contexts, the
 * commands in flight, holds (a channel's messages wait while a
 * subscriber's history is fetched, so it gets each message once: in its
 * replay or live).
 */
#ifndef WS_HUBREDIS_H
#define WS_HUBREDIS_H

#include <stddef.h>
#include <stdint.h>

#include "apr_pools.h"
#include "apr_time.h"
#include "httpd.h"

#include "ws_hubproto.h"
#include "ws_hubstore.h"
#include "ws_redisconf.h"

/* --- the hub's side --- */

typedef struct ws_hubredis ws_hubredis_t;

/* What a join (a subscription with its replay) got from Redis. */
typedef struct {
    uint64_t last;              /* the channel's last id */
    int gap;
    uint32_t subscribers;       /* on every server */
    uint32_t count;             /* history records (ws_hubhist list) */
    ws_hubbuf_t history;
    uint32_t nmembers;          /* presence (ws_hubmember list) */
    ws_hubbuf_t members;
} ws_hubredis_joined_t;

/* The hub's functions the link calls (all on the hub's thread). */
typedef struct {
    /* Watch fd for events (EPOLLIN/EPOLLOUT; 0: stop) under slot. */
    void (*watch)(int fd, uint32_t slot, uint32_t events);
    /* A DELIVER from Redis for this server's subscribers of m->key. */
    void (*deliver)(const ws_hubmsg_t *m);
    /* Connected, or time to refresh: call ws_hubredis_channel for every
     * channel with subscribers here. */
    void (*resync)(void);
    /* A publish's answer (token non-zero: the child waits for it). */
    void (*puback)(uint32_t target, uint64_t token, uint64_t id,
                   uint32_t subscribers);
    /* A publish Redis did not take (or whose echo never came): deliver
     * it here as the embedded store would; token non-zero: answer it. */
    void (*publish_local)(const ws_hubmsg_t *pub, uint32_t target,
                          uint64_t token);
    /* A join's answer: j NULL if Redis failed (answer from the store). */
    void (*joined)(const ws_hubmsg_t *sub, uint32_t target,
                   const ws_hubredis_joined_t *j);
    /* A catch-up's messages for target's child (j->history; j NULL:
     * Redis failed, nothing to send). */
    void (*caught_up)(uint32_t target, const uint8_t *key, size_t klen,
                      const ws_hubredis_joined_t *j);
    /* An INFO's answer (ack NULL: Redis failed: answer from the store). */
    void (*infoack)(uint32_t target, uint64_t token, const uint8_t *key,
                    size_t klen, const ws_hubmsg_t *ack);
} ws_hubredis_hooks_t;

/* Start connecting (returns at once).  slot_cmd, slot_sub: the watch
 * slots of the two connections; server_id: this server's id in Redis (32
 * hex digits, kept by httpd's parent: a restarted hub takes over its
 * predecessor's counts and presence). */
ws_hubredis_t *ws_hubredis_create(const ws_redis_conf_t *conf,
                                  const ws_hubredis_hooks_t *hooks,
                                  server_rec *s, uint32_t slot_cmd,
                                  uint32_t slot_sub, const char *server_id);

/* A child subscribed again after this hub (re)started: what it missed of
 * key since its newest message comes through hooks->caught_up (now, or
 * once Redis answers), the channel's live messages held meanwhile. */
void ws_hubredis_catch_up(ws_hubredis_t *r, const uint8_t *key, size_t klen,
                          uint64_t since, uint32_t target);

/* Readiness on a watched slot. */
void ws_hubredis_event(ws_hubredis_t *r, uint32_t slot, uint32_t events);

/* Timeouts, reconnection, heartbeats, refreshes: call at least every
 * 100 ms. */
void ws_hubredis_tick(ws_hubredis_t *r, apr_time_t now);

/* Is Redis reachable (connected, scripts loaded, subscribed)? */
int ws_hubredis_up(const ws_hubredis_t *r);

/* A publish delivered here only (Redis unreachable): counted for the
 * recovery line. */
void ws_hubredis_local_only(ws_hubredis_t *r);

/*
 * Publish pub (key, msgtype, conn, exclude, data) keeping count messages
 * for age_us; the answer comes through hooks->puback (or publish_local).
 * Returns 0, or -1 if Redis is not up (the caller delivers here).
 */
int ws_hubredis_publish(ws_hubredis_t *r, const ws_hubmsg_t *pub,
                        uint32_t target, uint64_t token);

/* Join sub (key, conn, flags, label, since, last, token) for target: the
 * answer comes through hooks->joined.  0, or -1 if not up. */
int ws_hubredis_join(ws_hubredis_t *r, const ws_hubmsg_t *sub,
                     uint32_t target);

/* conn leaves key (a presence member if presence).  Nothing if not up. */
void ws_hubredis_leave(ws_hubredis_t *r, const uint8_t *key, size_t klen,
                       uint64_t conn, int presence, const uint8_t *label,
                       size_t label_len);

/* The channel facts of key (hooks->infoack).  0, or -1 if not up. */
int ws_hubredis_info(ws_hubredis_t *r, const uint8_t *key, size_t klen,
                     uint32_t target, uint64_t token);

/* Resync (from hooks->resync): this server has subscribers subscribers of
 * key, presence lists its members. */
void ws_hubredis_channel(ws_hubredis_t *r, const uint8_t *key, size_t klen,
                         uint32_t subscribers, const ws_hubsub_t *presence);

/* Ask for a resync at the next tick (a child re-subscribed). */
void ws_hubredis_resync_soon(ws_hubredis_t *r);

#endif /* WS_HUBREDIS_H */
