/*
 * chat.c -- a chat server: rooms, names, presence and history, across
 * every httpd child process.  Clients speak JSON over text frames (one
 * object per message); see chat.md for the protocol.
 *
 *     WebSocketLoadHandler chat .../websocket/chat.so
 *     <Location "/chat">
 *         WebSocketHandler chat
 *     </Location>
 *
 * A room is a channel of the location's namespace: two chat locations
 * never share rooms (unless WebSocketNamespace says they do).  Joining
 * subscribes with the chat name as the presence label and asks for a
 * replay (the last `history` messages, or those after `since` on a
 * resume); on_subscribed answers "joined" and "history".  A message is
 * published as {"from":N,"text":T}; on_channel_event turns each channel
 * event (message, presence join/leave) into the client's JSON once per
 * child, and api->deliver hands that one copy to every member here.
 * Options (WebSocketHandlerOption):
 *     history <n>      messages replayed on a join without since (50;
 *                      0-1000; the channel keeps WebSocketChannelHistory)
 *     max-text <n>     longest text a client may send, bytes (4096)
 *     max-rooms <n>    rooms one connection may be in at once (16; 1-255)
 *
 * Names: the user httpd authenticated, if any (a name the client sends is
 * then ignored); else the "name" of each join (per room).
 *
 * Threads and lifetimes.  A connection's state (chat_conn_t: its rooms
 * and the name in each) is touched only by its own callbacks -- on_open,
 * on_message, on_subscribed, on_close -- which never run concurrently:
 * no lock.  It lives from on_open to on_close.  The location's options
 * (chat_location_t) are written in location_init and only read after.
 * on_channel_event runs on the child's channel thread, concurrently with
 * everything else: it reads only the event and builds its own JSON.
 * Every jansson value is made and freed by one callback and never shared,
 * which is all jansson asks of threaded programs.  Nothing here blocks.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ws_plugin_api.h"

#define DEFAULT_HISTORY     50
#define DEFAULT_MAX_TEXT    4096
#define DEFAULT_MAX_ROOMS   16
#define HISTORY_LIMIT       1000
#define MAX_TEXT_LIMIT      (16L * 1024 * 1024)
#define MAX_ROOMS_LIMIT     255         /* channels per connection */
#define ROOM_MAX            64          /* bytes */
#define NICK_MAX            32          /* bytes, a name a client sends */
#define LABEL_MAX           255         /* bytes, a presence label */

/* What JSON we read: duplicate keys are refused; "\u0000" in a text is
 * fine (names and rooms refuse control characters anyway). */
#define CHAT_JSON_IN        (JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL)

typedef struct {
    unsigned int history;
    size_t max_text;
    unsigned int max_rooms;
} chat_location_t;

/* A room the connection is in.  JOINING: subscribed, on_subscribed not
 * yet called.  A leave then waits for it (leaving): every join is
 * answered by "joined" (or an error), every leave by "left", in order,
 * and a subscription is never ended while its answer may be on its way
 * (a later join of the room could take that answer for its own). */
typedef enum {
    ROOM_JOINING,
    ROOM_JOINED
} room_state_e;

typedef struct {
    char *room;
    char *name;                 /* the presence label, "from" */
    room_state_e state;
    int leaving;
} chat_room_t;

typedef struct {
    chat_room_t *rooms;
    size_t n, cap;
} chat_conn_t;

/* The server's API, set once per process by init. */
static const ws_api_t *ws;

static int chat_init(const ws_api_t *api)
{
    /* Channels came with the appended API: refuse an older server. */
    if (api->size < offsetof(ws_api_t, deliver) + sizeof(api->deliver)) {
        return -1;
    }
    ws = api;
    return 0;
}

/* --- names, rooms, options --- */

/* 1 to max bytes without control characters (C0, DEL, and C1:
 * U+0080-U+009F, UTF-8 0xC2 0x80-0x9F), in UTF-8 that jansson checked. */
static int label_ok(const char *s, size_t len, size_t max)
{
    size_t i;

    if (len == 0 || len > max) {
        return 0;
    }
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c < 0x20 || c == 0x7f) {
            return 0;
        }
        if (c == 0xc2 && i + 1 < len && (unsigned char)s[i + 1] >= 0x80
            && (unsigned char)s[i + 1] <= 0x9f) {
            return 0;
        }
    }
    return 1;
}

/* A whole decimal number from min to max, or -1. */
static long number(const char *value, long min, long max)
{
    char *end;
    long n;

    if (*value < '0' || *value > '9') {
        return -1;
    }
    n = strtol(value, &end, 10);
    return *end || n < min || n > max ? -1 : n;
}

static const char *chat_check_option(const char *name, const char *value)
{
    if (!strcmp(name, "history")) {
        return number(value, 0, HISTORY_LIMIT) < 0
               ? "history is the number of messages replayed on a join, "
                 "from 0 to 1000" : NULL;
    }
    if (!strcmp(name, "max-text")) {
        return number(value, 1, MAX_TEXT_LIMIT) < 0
               ? "max-text is the longest text a client may send, in "
                 "bytes, from 1 to 16777216" : NULL;
    }
    if (!strcmp(name, "max-rooms")) {
        return number(value, 1, MAX_ROOMS_LIMIT) < 0
               ? "max-rooms is how many rooms one connection may be in, "
                 "from 1 to 255" : NULL;
    }
    return "unknown option (chat takes history, max-text, max-rooms)";
}

/* check_option has vouched for every value set. */
static long option(ws_location_t *loc, const char *name, long dflt)
{
    const char *v = ws->location_option(loc, name);

    return v ? strtol(v, NULL, 10) : dflt;
}

static int chat_location_init(ws_location_t *loc)
{
    chat_location_t *cl = calloc(1, sizeof(*cl));

    if (!cl) {
        return -1;
    }
    cl->history = (unsigned int)option(loc, "history", DEFAULT_HISTORY);
    cl->max_text = (size_t)option(loc, "max-text", DEFAULT_MAX_TEXT);
    cl->max_rooms = (unsigned int)option(loc, "max-rooms", DEFAULT_MAX_ROOMS);
    ws->set_location_data(loc, cl);
    return 0;
}

static void chat_location_fini(ws_location_t *loc)
{
    free(ws->location_data(loc));
}

/* --- sending --- */

/* Send obj (taken over) as one text message. */
static void send_json(ws_connection_t *conn, json_t *obj)
{
    char *text = obj ? json_dumps(obj, JSON_COMPACT) : NULL;

    if (text) {
        /* A full queue or a closing connection: the server counts it. */
        ws->send(conn, WS_MSG_TEXT, text, strlen(text));
        free(text);
    }
    json_decref(obj);
}

static void send_error(ws_connection_t *conn, const char *room,
                       const char *fmt, ...) WS_PRINTF(3, 4);

static void send_error(ws_connection_t *conn, const char *room,
                       const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    json_t *obj;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    obj = json_pack("{s:s, s:s}", "type", "error", "error", msg);
    if (obj && room) {
        json_object_set_new(obj, "room", json_string(room));
    }
    send_json(conn, obj);
}

static void send_left(ws_connection_t *conn, const char *room)
{
    send_json(conn, json_pack("{s:s, s:s}", "type", "left", "room", room));
}

/* --- channel events as the client sees them --- */

/* The chat's own payload, {"from":N,"text":T} published by a chat
 * connection: 1 with *from and *text set (references into *doc, which the
 * caller frees).  Anything else (a POST to websocket-publish, another
 * handler sharing the namespace) is 0. */
static int own_payload(const ws_channel_event_t *ev, json_t **doc,
                       json_t **from, json_t **text)
{
    *doc = NULL;
    if (ev->conn_id == 0 || ev->type != WS_MSG_TEXT
        || !(*doc = json_loadb(ev->data, ev->len, CHAT_JSON_IN, NULL))) {
        return 0;
    }
    *from = json_object_get(*doc, "from");
    *text = json_object_get(*doc, "text");
    return json_is_object(*doc) && json_object_size(*doc) == 2
           && json_is_string(*from) && json_is_string(*text);
}

/* A channel MESSAGE as {"type":"message","room","from","text","id","ts"},
 * or NULL if it cannot be one (binary that is not UTF-8). */
static json_t *message_json(const ws_channel_event_t *ev)
{
    json_t *doc, *from, *text, *obj;

    if (own_payload(ev, &doc, &from, &text)) {
        json_incref(from);
        json_incref(text);
    }
    else {
        /* Shown as it came, from nobody in particular. */
        from = json_null();
        text = json_stringn(ev->data, ev->len);
    }
    json_decref(doc);
    if (!text) {
        json_decref(from);
        return NULL;
    }
    obj = json_pack("{s:s, s:s, s:o, s:o, s:I, s:I}", "type", "message",
                    "room", ev->channel, "from", from, "text", text,
                    "id", (json_int_t)ev->id, "ts", (json_int_t)ev->time_ms);
    return obj;
}

/* On the channel thread, once per event in this child: one message for
 * every member of the room here (api->deliver leaves out the connection
 * that joined, for its JOIN). */
static void chat_channel_event(ws_location_t *loc,
                               const ws_channel_event_t *ev,
                               ws_delivery_t *d)
{
    json_t *obj = NULL, *name;
    char *text;

    (void)loc;
    if (ev->event == WS_CHANNEL_MESSAGE) {
        obj = message_json(ev);
    }
    else if ((name = json_stringn(ev->data, ev->len))) {
        obj = json_pack("{s:s, s:s, s:s, s:o, s:I}", "type", "presence",
                        "room", ev->channel, "event",
                        ev->event == WS_CHANNEL_JOIN ? "join" : "leave",
                        "name", name, "count", (json_int_t)ev->subscribers);
    }
    if (obj && (text = json_dumps(obj, JSON_COMPACT))) {
        ws->deliver(d, WS_MSG_TEXT, text, strlen(text));
        free(text);
    }
    json_decref(obj);
}

/* --- the connection's rooms --- */

static chat_room_t *find_room(chat_conn_t *cc, const char *room)
{
    size_t i;

    for (i = 0; i < cc->n; i++) {
        if (!strcmp(cc->rooms[i].room, room)) {
            return &cc->rooms[i];
        }
    }
    return NULL;
}

static void drop_room(chat_conn_t *cc, chat_room_t *r)
{
    free(r->room);
    free(r->name);
    *r = cc->rooms[--cc->n];
}

static int chat_open(ws_connection_t *conn)
{
    chat_conn_t *cc;

    if (!ws->location_data(ws->location(conn))) {
        return 500;             /* location_init failed */
    }
    if (!(cc = calloc(1, sizeof(*cc)))) {
        return 503;
    }
    ws->set_data(conn, cc);
    return 0;
}

static void chat_close(ws_connection_t *conn, int code, const char *reason)
{
    chat_conn_t *cc = ws->get_data(conn);
    size_t i;

    (void)code; (void)reason;
    /* The server ends the subscriptions; the others see us leave. */
    for (i = 0; i < cc->n; i++) {
        free(cc->rooms[i].room);
        free(cc->rooms[i].name);
    }
    free(cc->rooms);
    free(cc);
}

/* The request's "room", valid, or NULL (the error sent). */
static const char *get_room(ws_connection_t *conn, json_t *req)
{
    json_t *v = json_object_get(req, "room");

    if (!json_is_string(v)) {
        send_error(conn, NULL, "room: missing or not a string");
        return NULL;
    }
    if (!label_ok(json_string_value(v), json_string_length(v), ROOM_MAX)) {
        send_error(conn, NULL, "room: a room name is 1 to %d bytes without "
                   "control characters", ROOM_MAX);
        return NULL;
    }
    return json_string_value(v);
}

/* The name for a join in room, malloc'd, or NULL (the error sent). */
static char *join_name(ws_connection_t *conn, json_t *req, const char *room)
{
    const char *user = ws->user(conn);
    json_t *v;
    char *name;

    if (user) {
        /* httpd's word; whatever the client says is ignored.  Not checked
         * by jansson: json_string() refuses what is not UTF-8. */
        if (!label_ok(user, strlen(user), LABEL_MAX)
            || !(v = json_string(user))) {
            send_error(conn, room, "your user name cannot be a chat name "
                       "(not UTF-8, control characters, or over %d bytes)",
                       LABEL_MAX);
            return NULL;
        }
        json_decref(v);
        name = strdup(user);
    }
    else {
        v = json_object_get(req, "name");
        if (!json_is_string(v)
            || !label_ok(json_string_value(v), json_string_length(v),
                         NICK_MAX)) {
            send_error(conn, room, "name: required, 1 to %d bytes without "
                       "control characters", NICK_MAX);
            return NULL;
        }
        name = strdup(json_string_value(v));
    }
    if (!name) {
        send_error(conn, room, "cannot join now (out of memory)");
    }
    return name;
}

static void do_join(ws_connection_t *conn, chat_conn_t *cc,
                    const chat_location_t *cl, json_t *req)
{
    ws_subscribe_options_t opts;
    json_t *since = json_object_get(req, "since");
    const char *room;
    chat_room_t *r;
    char *name;
    int rv;

    if (!(room = get_room(conn, req))) {
        return;
    }
    if ((r = find_room(cc, room))) {
        send_error(conn, room, r->leaving ? "still leaving (wait for "
                   "\"left\")" : "already joined");
        return;
    }
    if (cc->n >= cl->max_rooms) {
        send_error(conn, room, "too many rooms (at most %u at once)",
                   cl->max_rooms);
        return;
    }
    if (since && !json_is_null(since)
        && (!json_is_integer(since) || json_integer_value(since) < 0)) {
        send_error(conn, room, "since: a message id (an integer)");
        return;
    }
    if (cc->n == cc->cap) {
        size_t cap = cc->cap ? cc->cap * 2 : 4;
        chat_room_t *rooms = realloc(cc->rooms, cap * sizeof(*rooms));

        if (!rooms) {
            send_error(conn, room, "cannot join now (out of memory)");
            return;
        }
        cc->rooms = rooms;
        cc->cap = cap;
    }
    if (!(name = join_name(conn, req, room))) {
        return;
    }
    memset(&opts, 0, sizeof(opts));
    opts.size = sizeof(opts);
    opts.presence = name;
    /* A resume replays what came after the id the client saw; a first
     * join, the last few messages.  (since 0: the client saw none.) */
    opts.since = json_is_integer(since)
                 ? (ws_msgid_t)json_integer_value(since) : 0;
    opts.last = opts.since ? 0 : cl->history;
    rv = ws->subscribe(conn, room, &opts);
    if (rv != WS_OK) {
        free(name);
        if (rv != WS_ECLOSED) {
            send_error(conn, room, "cannot join: %s",
                       rv == WS_ELIMIT ? "too many rooms"
                       : rv == WS_EINVAL ? "refused by the server"
                       : "the server is short of memory");
        }
        return;
    }
    r = &cc->rooms[cc->n];
    r->room = strdup(room);
    r->name = name;
    r->state = ROOM_JOINING;
    r->leaving = 0;
    if (!r->room) {
        ws->unsubscribe(conn, room);
        free(name);
        send_error(conn, room, "cannot join now (out of memory)");
        return;
    }
    cc->n++;
}

static void do_message(ws_connection_t *conn, chat_conn_t *cc,
                       const chat_location_t *cl, json_t *req)
{
    json_t *text = json_object_get(req, "text"), *obj;
    const char *room;
    chat_room_t *r;
    char *payload;
    int rv;

    if (!(room = get_room(conn, req))) {
        return;
    }
    /* A message may follow a join at once: the hub takes this
     * connection's subscription before its publish, so the sender's own
     * copy comes after "joined". */
    if (!(r = find_room(cc, room)) || r->leaving) {
        send_error(conn, room, "not joined");
        return;
    }
    if (!json_is_string(text) || json_string_length(text) == 0) {
        send_error(conn, room, "text: missing, empty or not a string");
        return;
    }
    if (json_string_length(text) > cl->max_text) {
        send_error(conn, room, "text too long (at most %zu bytes)",
                   cl->max_text);
        return;
    }
    obj = json_pack("{s:s, s:O}", "from", r->name, "text", text);
    payload = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
    json_decref(obj);
    rv = payload ? ws->publish(ws->location(conn), room, WS_MSG_TEXT,
                               payload, strlen(payload), 0)
                 : WS_EQUEUE;
    free(payload);
    if (rv != WS_OK) {
        send_error(conn, room, "not sent: %s", rv == WS_EQUEUE
                   ? "the channel service is unavailable" : "refused");
    }
}

static void do_leave(ws_connection_t *conn, chat_conn_t *cc, json_t *req)
{
    const char *room;
    chat_room_t *r;

    if (!(room = get_room(conn, req))) {
        return;
    }
    if (!(r = find_room(cc, room)) || r->leaving) {
        send_error(conn, room, "not joined");
        return;
    }
    if (r->state == ROOM_JOINING) {
        r->leaving = 1;         /* "left" once the join is answered */
        return;
    }
    ws->unsubscribe(conn, room);
    drop_room(cc, r);
    send_left(conn, room);
}

/* On the connection's thread; data is valid until we return. */
static int chat_message(ws_connection_t *conn, ws_msg_type_e type,
                        const char *data, size_t len)
{
    chat_conn_t *cc = ws->get_data(conn);
    const chat_location_t *cl = ws->location_data(ws->location(conn));
    json_error_t err;
    json_t *req;
    const char *t;

    if (type != WS_MSG_TEXT) {
        send_error(conn, NULL, "binary message: send JSON text");
        return 0;
    }
    /* Refused before parsing: a request holds at most max-text bytes of
     * text and a room and a name (255 each), each escaped at worst 6 to a
     * byte, and its keys.  Parsing runs on a shared event loop. */
    if (len > 6 * (cl->max_text + 2 * 255) + 1024) {
        send_error(conn, NULL, "message too long (at most %zu bytes)",
                   6 * (cl->max_text + 2 * 255) + 1024);
        return 0;
    }
    for (t = data; t < data + len && strchr(" \t\r\n", *t); t++) {
    }
    if (t == data + len || *t != '{') {
        send_error(conn, NULL, "not a JSON object");
        return 0;
    }
    if (!(req = json_loadb(data, len, CHAT_JSON_IN, &err))) {
        send_error(conn, NULL, "not JSON: %s", err.text);
        return 0;
    }
    if (!json_is_object(req)) {
        send_error(conn, NULL, "not a JSON object");
    }
    else if (!(t = json_string_value(json_object_get(req, "type")))) {
        send_error(conn, NULL, "type: missing or not a string");
    }
    else if (!strcmp(t, "join")) {
        do_join(conn, cc, cl, req);
    }
    else if (!strcmp(t, "message")) {
        do_message(conn, cc, cl, req);
    }
    else if (!strcmp(t, "leave")) {
        do_leave(conn, cc, req);
    }
    else {
        send_error(conn, NULL, "unknown type (join, message or leave)");
    }
    json_decref(req);
    return 0;
}

/* The join is complete, on the connection's thread: "joined" and
 * "history", before any live message of the room (the server holds them
 * until we return). */
static void chat_subscribed(ws_connection_t *conn,
                            const ws_subscription_t *sub)
{
    chat_conn_t *cc = ws->get_data(conn);
    chat_room_t *r = find_room(cc, sub->channel);
    json_t *users, *messages, *m;
    size_t i;

    if (!r || r->state != ROOM_JOINING) {
        return;
    }
    r->state = ROOM_JOINED;
    users = json_array();
    for (i = 0; users && i < sub->nmembers; i++) {
        json_array_append_new(users, json_stringn(sub->members[i].label,
                                                  sub->members[i].len));
    }
    send_json(conn, json_pack("{s:s, s:s, s:s, s:o*, s:I, s:I}",
                              "type", "joined", "room", sub->channel,
                              "name", r->name, "users", users,
                              "count", (json_int_t)sub->subscribers,
                              "last_id", (json_int_t)sub->last_id));
    messages = json_array();
    for (i = 0; messages && i < sub->nhistory; i++) {
        if ((m = message_json(&sub->history[i]))) {
            json_array_append_new(messages, m);
        }
    }
    send_json(conn, json_pack("{s:s, s:s, s:o*, s:b}", "type", "history",
                              "room", sub->channel, "messages", messages,
                              "gap", sub->gap));
    if (r->leaving) {
        /* The client left before its join was answered. */
        ws->unsubscribe(conn, sub->channel);
        send_left(conn, sub->channel);
        drop_room(cc, r);
    }
}

WS_HANDLER_EXPORT = {
    WS_HANDLER_HEADER("chat"),
    chat_check_option,
    chat_init,
    NULL,                       /* fini: nothing process-wide */
    chat_open,
    chat_message,
    chat_close,
    /* Speaks no subprotocol of its own: agree to a browser's first offer
     * (a browser that offers some needs one agreed). */
    WS_HANDLER_ANY_PROTOCOL,
    chat_location_init,
    chat_location_fini,
    chat_subscribed,
    chat_channel_event
};
