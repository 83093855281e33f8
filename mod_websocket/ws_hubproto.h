/*
 * ws_hubproto.h -- the messages between httpd's children and the channel
 * hub (ws_hub.c): our own protocol over a local stream socket, between
 * processes of one httpd (never over a network, never to a client).
 *
 * A frame is a 32-bit length (host order: both ends are this machine),
 * then a type byte, then the message's fields in the order its type lists
 * them (ws_hubproto.c's table): integers in host order, byte strings as a
 * 32-bit length and the bytes.  Every message is one flat ws_hubmsg_t;
 * a type uses some of its fields.
 *
 * Owns: encoding and decoding, with every length checked.  Pure: no I/O,
 * no httpd.  Threads: none of its own; buffers belong to the caller.
 */
#ifndef WS_HUBPROTO_H
#define WS_HUBPROTO_H

#include <stddef.h>
#include <stdint.h>

/* Bump when any message changes: a hub and children of another version
 * do not talk (the parent starts a new hub). */
#define WS_HUB_PROTO_VERSION 1

/* The most a frame may carry: a message of 64 MB plus its fields. */
#define WS_HUB_MAX_PAYLOAD (64u * 1024 * 1024)
#define WS_HUB_MAX_FRAME   (WS_HUB_MAX_PAYLOAD + 64u * 1024)

typedef enum {
    /* child -> hub */
    WS_HUB_HELLO = 1,           /* version, child, pid, memory */
    WS_HUB_SUB,                 /* token (the subscription's, echoed in
                                 * SUBACK), conn, key, flags, label, since,
                                 * last */
    WS_HUB_UNSUB,               /* conn, key */
    WS_HUB_PUB,                 /* token, conn, exclude, key, msgtype,
                                 * count, age, data */
    WS_HUB_SENDTO,              /* conn, msgtype, data */
    WS_HUB_INFO,                /* token, key */
    /* hub -> child */
    WS_HUB_WELCOME,             /* version, time */
    WS_HUB_SUBACK,              /* token, conn, key, id (last), gap,
                                 * subscribers, count + history, nmembers
                                 * + members */
    WS_HUB_DELIVER,             /* event, key, id, time, msgtype, conn,
                                 * exclude, subscribers, data */
    WS_HUB_PUBACK,              /* token, id, subscribers */
    WS_HUB_DIRECT,              /* conn, msgtype, data */
    WS_HUB_INFOACK,             /* token, id (last), subscribers, count
                                 * (messages kept), nmembers, since (the
                                 * oldest id kept) */
    WS_HUB_NTYPES
} ws_hubmsg_type_e;

/* SUB flags. */
#define WS_HUB_SUB_PRESENCE 0x1  /* the label is seen in presence */
#define WS_HUB_SUB_QUIET    0x2  /* a re-subscription after the hub came
                                  * back: no SUBACK, no JOIN */

/* DELIVER events: ws_plugin_api.h's ws_channel_event_e. */

typedef struct {
    int type;
    uint32_t version;
    uint32_t child;             /* ws_ids' child number */
    uint32_t pid;
    uint32_t flags;
    uint32_t event;
    uint32_t msgtype;           /* WS_MSG_TEXT, WS_MSG_BINARY */
    uint32_t gap;
    uint32_t count;             /* history count (PUB: to keep; SUBACK:
                                 * records; INFOACK: kept) */
    uint32_t last;              /* SUB: replay the last this many */
    uint32_t subscribers;
    uint32_t nmembers;
    uint64_t memory;            /* HELLO: WebSocketChannelMemory */
    uint64_t conn;
    uint64_t exclude;
    uint64_t token;
    uint64_t id;
    uint64_t time;              /* microseconds since the epoch */
    uint64_t since;
    uint64_t age;               /* PUB: history age to keep, microseconds */
    const uint8_t *key;         /* namespace, NUL, channel name */
    size_t key_len;
    const uint8_t *label;
    size_t label_len;
    const uint8_t *data;
    size_t data_len;
    const uint8_t *history;     /* SUBACK: count records (below) */
    size_t history_len;
    const uint8_t *members;     /* SUBACK: nmembers records (below) */
    size_t members_len;
} ws_hubmsg_t;

/* A growable output buffer. */
typedef struct {
    uint8_t *data;
    size_t len;
    size_t cap;
} ws_hubbuf_t;

void ws_hubbuf_init(ws_hubbuf_t *b);
void ws_hubbuf_free(ws_hubbuf_t *b);

/* Append m as one frame.  0, or -1 if memory ran out or the frame would
 * pass WS_HUB_MAX_FRAME (b is then as before). */
int ws_hubmsg_encode(ws_hubbuf_t *b, const ws_hubmsg_t *m);

/*
 * Parse one frame from buf (len bytes available).  Returns the frame's
 * size and fills *m (its pointers point into buf), 0 if more bytes are
 * needed, or -1 if the bytes are not a valid frame (a broken peer: drop
 * the connection).
 */
long ws_hubmsg_decode(const uint8_t *buf, size_t len, ws_hubmsg_t *m);

/* SUBACK's history: records of {id, time, msgtype, conn, data} appended
 * to b (ws_hubhist_add), read back one by one (ws_hubhist_next: 1 with
 * *rec filled, 0 at the end, -1 if malformed; *pos starts at 0). */
typedef struct {
    uint64_t id;
    uint64_t time;
    uint32_t msgtype;
    uint64_t conn;
    const uint8_t *data;
    size_t data_len;
} ws_hubhist_t;

int ws_hubhist_add(ws_hubbuf_t *b, const ws_hubhist_t *rec);
int ws_hubhist_next(const uint8_t *list, size_t len, size_t *pos,
                    ws_hubhist_t *rec);

/* SUBACK's members: records of {conn, label}. */
typedef struct {
    uint64_t conn;
    const uint8_t *label;
    size_t label_len;
} ws_hubmember_t;

int ws_hubmember_add(ws_hubbuf_t *b, const ws_hubmember_t *rec);
int ws_hubmember_next(const uint8_t *list, size_t len, size_t *pos,
                      ws_hubmember_t *rec);

#endif /* WS_HUBPROTO_H */
