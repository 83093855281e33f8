/*
 * ws_hubstore.h -- what the channel hub knows: channels, who subscribes to
 * them from which child, presence labels, message ids and each channel's
 * history.  The embedded store of the channel service (ws_hub.c drives it;
 * a store kept elsewhere, Redis, takes its place behind the same hub).
 *
 * Channels are keys (namespace, NUL, name: opaque bytes here).  A
 * subscription is (channel, connection id) and belongs to a *target*: the
 * hub's number for the child process holding the connection.  Message
 * ids are the publish time in microseconds, made strictly increasing
 * across the whole store, so they increase within every channel and
 * across restarts of the hub (while the clock does).
 *
 * History: each channel keeps at most `count` messages younger than `age`
 * (the latest publish's settings), and the whole store at most `memory`
 * bytes of them (the oldest go first).  A channel knows the id after which
 * its history is complete (`complete_after`: the newest id it lost, or the
 * store's start): a replay since an older id has a gap.
 *
 * Owns: all of the above, in malloc'd memory.  Pure (no I/O, no clock of
 * its own: callers pass the time); one thread (the hub's).
 */
#ifndef WS_HUBSTORE_H
#define WS_HUBSTORE_H

#include <stddef.h>
#include <stdint.h>

typedef struct ws_hubstore ws_hubstore_t;
typedef struct ws_hubchan ws_hubchan_t;
typedef struct ws_hubsub ws_hubsub_t;

/* A message in a channel's history (read-only to callers). */
typedef struct ws_hubmsg_rec {
    struct ws_hubmsg_rec *prev, *next;      /* the channel's, oldest first */
    struct ws_hubmsg_rec *gprev, *gnext;    /* the store's, oldest first */
    ws_hubchan_t *chan;
    uint64_t id;
    uint64_t time;              /* microseconds */
    uint64_t conn;              /* the publisher (0: none) */
    uint32_t msgtype;
    size_t len;
    uint8_t data[1];            /* len bytes, then a NUL */
} ws_hubmsg_rec_t;

/* A subscription (read-only to callers). */
struct ws_hubsub {
    ws_hubchan_t *chan;
    uint64_t conn;
    uint32_t target;
    int presence;               /* the label is seen */
    uint8_t *label;             /* NUL-terminated */
    size_t label_len;
    /* links: the store's hash, the target's list, the channel's presence
     * list */
    ws_hubsub_t *hnext;
    ws_hubsub_t *tprev, *tnext;
    ws_hubsub_t *pprev, *pnext;
};

/* Per-target subscriber counts of a channel: where its messages go. */
typedef struct {
    uint32_t target;
    uint32_t count;
} ws_hubroute_t;

/* start: the store's birth (microseconds): history is complete after it. */
ws_hubstore_t *ws_hubstore_create(uint64_t start, size_t memory);
void ws_hubstore_destroy(ws_hubstore_t *st);

/* WebSocketChannelMemory (the newest child's says). */
void ws_hubstore_set_memory(ws_hubstore_t *st, size_t memory);

/* The channel of key, made if make and absent; NULL if absent (or memory
 * ran out). */
ws_hubchan_t *ws_hubstore_channel(ws_hubstore_t *st, const uint8_t *key,
                                  size_t key_len, int make);

/* A channel's facts. */
const uint8_t *ws_hubchan_key(const ws_hubchan_t *ch, size_t *len);
uint32_t ws_hubchan_subscribers(const ws_hubchan_t *ch);
uint32_t ws_hubchan_members(const ws_hubchan_t *ch);   /* with a label */
uint64_t ws_hubchan_last_id(const ws_hubchan_t *ch);
uint32_t ws_hubchan_kept(const ws_hubchan_t *ch);      /* in history */
uint64_t ws_hubchan_oldest_id(const ws_hubchan_t *ch); /* 0: none kept */
/* Its routes (targets with subscribers), n of them. */
const ws_hubroute_t *ws_hubchan_routes(const ws_hubchan_t *ch, size_t *n);
/* Its presence members, newest first (walk with ->pnext). */
const ws_hubsub_t *ws_hubchan_presence(const ws_hubchan_t *ch);

/*
 * Subscribe conn (held by target) to ch.  label may be NULL (len 0);
 * presence says whether it is seen.  Returns the subscription, or NULL if
 * conn is subscribed already (*exists = 1) or memory ran out (*exists =
 * 0).
 */
ws_hubsub_t *ws_hubstore_subscribe(ws_hubstore_t *st, ws_hubchan_t *ch,
                                   uint64_t conn, uint32_t target,
                                   int presence, const uint8_t *label,
                                   size_t label_len, int *exists);

/* conn's subscription to ch, or NULL. */
ws_hubsub_t *ws_hubstore_find(ws_hubstore_t *st, ws_hubchan_t *ch,
                              uint64_t conn);

/* End a subscription.  The channel may be freed if nothing keeps it
 * (no subscribers, no history): do not use ch afterwards. */
void ws_hubstore_unsubscribe(ws_hubstore_t *st, ws_hubsub_t *sub);

/* The first subscription of target (walk with ->tnext), to end them all
 * when its child is gone. */
ws_hubsub_t *ws_hubstore_target_first(ws_hubstore_t *st, uint32_t target);

/*
 * A message published to ch at now: its id is returned (never 0), and it
 * is kept (count messages for age microseconds at most: 0 keeps none) if
 * memory allows.  data is copied.  The channel is not freed here.
 */
uint64_t ws_hubstore_publish(ws_hubstore_t *st, ws_hubchan_t *ch,
                             uint32_t msgtype, const uint8_t *data,
                             size_t len, uint64_t conn, uint32_t count,
                             uint64_t age, uint64_t now);

/*
 * What a subscriber replays: with since (non-zero), the kept messages
 * after since, and *gap = 1 if some after since are gone; else the last
 * `last` messages (*gap = 0).  Returns the first one (walk with ->next),
 * or NULL for none.
 */
const ws_hubmsg_rec_t *ws_hubstore_replay(ws_hubstore_t *st,
                                          ws_hubchan_t *ch, uint64_t since,
                                          uint32_t last, uint64_t now,
                                          int *gap);

/* Call fn for every channel with subscribers here (fn must not subscribe,
 * unsubscribe or publish). */
void ws_hubstore_each_subscribed(ws_hubstore_t *st,
                                 void (*fn)(ws_hubchan_t *ch, void *arg),
                                 void *arg);

/* Drop history older than each channel's age, and channels nothing keeps
 * any more; call now and then (once a second). */
void ws_hubstore_expire(ws_hubstore_t *st, uint64_t now);

/* Figures: channels, history messages and bytes kept, messages evicted by
 * the memory limit. */
void ws_hubstore_figures(const ws_hubstore_t *st, size_t *channels,
                         size_t *messages, size_t *bytes,
                         uint64_t *evicted);

#endif /* WS_HUBSTORE_H */
