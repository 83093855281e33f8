/*
 * ws_channels.c -- channels in an httpd child (see ws_channels.h).
 *
 * Subscribing.  api->subscribe records the subscription here at once,
 * *pending*, and asks the hub (SUB).  The hub answers SUBACK with the
 * replay (history since the id asked for, or the last n) and presence,
 * and from then on sends this child the channel's messages.  The child
 * reads the hub's frames in order on one thread, so every DELIVER for the
 * channel that comes before the SUBACK was published before the replay
 * was taken (it is in the replay, or older): pending subscriptions skip
 * them.  The SUBACK makes the subscription active; every DELIVER after it
 * is newer than the replay.  So the replay and the live messages join
 * without a gap or a repeat.  The SUBACK reaches the connection as mail
 * (a call of the handler's on_subscribed on the connection's own thread,
 * or the replayed messages), ahead of the live messages, also mail.
 *
 * The hub unreachable (not started yet, or restarting after a crash): the
 * table stays the truth.  SUB/UNSUB are not queued; on (re)connection the
 * child says HELLO and subscribes every subscription again (active ones
 * QUIET: no replay, no JOIN), then sends the publishes it queued meanwhile
 * (at most WS_CHANNELS_BACKLOG bytes; beyond, dropped and counted).  The
 * outage is logged once at warning, its end at notice.
 */
#include <errno.h>
#include <stddef.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>

#include "apr_strings.h"
#include "apr_thread_proc.h"

#include "ws_private.h"
#include "ws_channels.h"
#include "ws_config.h"
#include "ws_hub.h"
#include "ws_hubproto.h"
#include "ws_ids.h"
#include "ws_location.h"
#include "ws_registry.h"
#include "ws_stats.h"
#include "ws_utf8.h"

/* --- the table --- */

typedef struct lchan lchan_t;
typedef struct lsub lsub_t;

struct lchan {
    lchan_t *hnext;
    uint64_t hash;
    uint8_t *key;               /* namespace, NUL, name, NUL */
    size_t key_len;             /* without the final NUL */
    const char *name;           /* in key */
    lsub_t *subs;
    size_t nsubs;
    ws_msgid_t last_id;         /* the newest message delivered here: the
                                 * hub delivers in id order, so an older
                                 * one is a repeat (a catch-up replay) */
};

struct lsub {
    lchan_t *ch;
    ws_session_t *ws;           /* a reference */
    ws_connid_t conn;
    uint64_t token;             /* this subscription's, in SUB and SUBACK */
    ws_location_t *loc;
    int active;                 /* the hub's SUBACK came */
    int presence;
    char *label;
    size_t label_len;
    ws_msgid_t since;
    unsigned int last;
    ws_msgid_t after;           /* SUBACK's last id: messages up to it came
                                 * in the replay (or before it) */
    lsub_t *prev, *next;        /* the channel's */
    lsub_t *snext;              /* the session's */
    lsub_t *hnext;              /* the table's hash by (channel, conn) */
};

/* A session's record (its channels area). */
typedef struct {
    lsub_t *first;
    int count;
    int gone;                   /* ended: no more subscriptions */
} sess_rec_t;

typedef char sess_rec_fits[sizeof(sess_rec_t) <= WS_SESSION_AREA ? 1 : -1];

typedef struct {
    void **slots;
    size_t size;
    size_t n;
} table_t;

static pthread_mutex_t chan_lock = PTHREAD_MUTEX_INITIALIZER;
static table_t chans;           /* lchan_t by key */
static table_t subs;            /* lsub_t by (channel, conn) */

/* --- the hub connection and its queue (out_lock) --- */

typedef struct frame {
    struct frame *next;
    int ctrl;                   /* SUB/UNSUB/HELLO: not kept when down */
    size_t len, off;
    uint8_t *data;
} frame_t;

/* An HTTP publisher waiting for the hub's answer. */
typedef struct req {
    struct req *next;
    uint64_t token;
    int done;                   /* 1: answered; -1: the hub went away */
    ws_channel_info_t info;
    pthread_cond_t cond;
} req_t;

static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;
static frame_t *out_head, *out_tail;
static size_t out_bytes;
static int hub_fd = -1;         /* written under out_lock */
static int connected;           /* (out_lock) HELLO sent */
static int broken;              /* (out_lock) a write failed */
static req_t *reqs;
static uint64_t next_token;
static apr_time_t outage_since; /* (out_lock) 0: not in an outage */
static uint64_t outage_drops;

static uint64_t next_sub_token; /* (chan_lock) */
static int evfd = -1;           /* wakes the channel thread */
static int stop_flag;           /* atomic */
static int thread_done;         /* atomic */
static int started;
static server_rec *chan_server;

/* The channel thread's input. */
static uint8_t *in_buf;
static size_t in_len, in_cap;

/* --- hashing --- */

#define HASH_SEED 14695981039346656037ULL

static uint64_t hash_bytes(const void *p, size_t n, uint64_t h)
{
    const uint8_t *b = p;
    size_t i;

    for (i = 0; i < n; i++) {
        h ^= b[i];
        h *= 1099511628211ULL;
    }
    return h;
}

static int table_init(table_t *t)
{
    t->size = 256;
    t->n = 0;
    t->slots = calloc(t->size, sizeof(void *));
    return t->slots ? 0 : -1;
}

/* Double t once it holds as many entries as slots, rehashing the chains:
 * hash(entry) is an entry's hash, next_off the offset of its chain link.
 * Out of memory: t stays as it is (longer chains). */
static void table_grow(table_t *t, uint64_t (*hash)(const void *),
                       size_t next_off)
{
    size_t i, size = t->size * 2;
    void **slots;

    if (t->n < t->size || !(slots = calloc(size, sizeof(void *)))) {
        return;
    }
    for (i = 0; i < t->size; i++) {
        void *e = t->slots[i], *next;

        for (; e; e = next) {
            void **link = (void **)((char *)e + next_off);
            void **slot = &slots[hash(e) & (size - 1)];

            next = *link;
            *link = *slot;
            *slot = e;
        }
    }
    free(t->slots);
    t->slots = slots;
    t->size = size;
}

static uint64_t sub_hash(const lchan_t *ch, ws_connid_t conn)
{
    return hash_bytes(&conn, sizeof(conn),
                      hash_bytes(&ch, sizeof(ch), HASH_SEED));
}

static lchan_t *chan_find(const uint8_t *key, size_t len, uint64_t h)
{
    lchan_t *c;

    for (c = chans.slots[h & (chans.size - 1)]; c; c = c->hnext) {
        if (c->hash == h && c->key_len == len && !memcmp(c->key, key, len)) {
            return c;
        }
    }
    return NULL;
}

static uint64_t chan_entry_hash(const void *e)
{
    return ((const lchan_t *)e)->hash;
}

static void chans_grow(void)
{
    table_grow(&chans, chan_entry_hash, offsetof(lchan_t, hnext));
}

static lchan_t *chan_make(const uint8_t *key, size_t len, uint64_t h)
{
    lchan_t *c = calloc(1, sizeof(*c)), **slot;

    if (!c || !(c->key = malloc(len + 1))) {
        free(c);
        return NULL;
    }
    memcpy(c->key, key, len);
    c->key[len] = '\0';
    c->key_len = len;
    c->name = (const char *)c->key + strlen((const char *)c->key) + 1;
    c->hash = h;
    slot = (lchan_t **)&chans.slots[h & (chans.size - 1)];
    c->hnext = *slot;
    *slot = c;
    chans.n++;
    chans_grow();
    return c;
}

static void chan_drop_if_empty(lchan_t *c)
{
    lchan_t **pp;

    if (c->subs) {
        return;
    }
    for (pp = (lchan_t **)&chans.slots[c->hash & (chans.size - 1)]; *pp;
         pp = &(*pp)->hnext) {
        if (*pp == c) {
            *pp = c->hnext;
            break;
        }
    }
    chans.n--;
    free(c->key);
    free(c);
}

static lsub_t *sub_find(const lchan_t *ch, ws_connid_t conn)
{
    lsub_t *s;

    for (s = subs.slots[sub_hash(ch, conn) & (subs.size - 1)]; s;
         s = s->hnext) {
        if (s->ch == ch && s->conn == conn) {
            return s;
        }
    }
    return NULL;
}

static uint64_t sub_entry_hash(const void *e)
{
    const lsub_t *sub = e;

    return sub_hash(sub->ch, sub->conn);
}

static void subs_grow(void)
{
    table_grow(&subs, sub_entry_hash, offsetof(lsub_t, hnext));
}

/* The key of channel in namespace ns (malloc'd; *len without the final
 * NUL), or NULL if the name is not valid. */
static uint8_t *make_key(const char *ns, const char *channel, size_t clen,
                         size_t *len)
{
    size_t nlen = strlen(ns);
    uint8_t *k;

    if (!ws_conf_name_valid(channel, clen)
        || !ws_utf8_valid((const uint8_t *)channel, clen)
        || !(k = malloc(nlen + 1 + clen + 1))) {
        return NULL;
    }
    memcpy(k, ns, nlen + 1);
    memcpy(k + nlen + 1, channel, clen);
    k[nlen + 1 + clen] = '\0';
    *len = nlen + 1 + clen;
    return k;
}

/* --- the queue for the hub --- */

static void wake_thread(void)
{
    uint64_t one = 1;

    if (evfd >= 0 && write(evfd, &one, sizeof(one)) < 0) {
        /* EAGAIN: a wake-up is pending anyway. */
    }
}

/* out_lock held: write what the socket takes now. */
static void flush_locked(void)
{
    struct iovec iov[64];

    while (connected && out_head && !broken) {
        frame_t *f;
        int n = 0;
        ssize_t w;

        for (f = out_head; f && n < 64; f = f->next, n++) {
            iov[n].iov_base = f->data + f->off;
            iov[n].iov_len = f->len - f->off;
        }
        w = writev(hub_fd, iov, n);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                broken = 1;
                wake_thread();
            }
            return;
        }
        out_bytes -= (size_t)w;
        while (w > 0) {
            f = out_head;
            if ((size_t)w >= f->len - f->off) {
                w -= (ssize_t)(f->len - f->off);
                out_head = f->next;
                if (!out_head) {
                    out_tail = NULL;
                }
                free(f->data);
                free(f);
            }
            else {
                f->off += (size_t)w;
                w = 0;
            }
        }
    }
}

/* out_lock held: append the frame in b (taken over). */
static void append_locked(ws_hubbuf_t *b, int ctrl)
{
    frame_t *f = malloc(sizeof(*f));

    if (!f) {
        ws_hubbuf_free(b);
        return;
    }
    f->next = NULL;
    f->ctrl = ctrl;
    f->len = b->len;
    f->off = 0;
    f->data = b->data;
    ws_hubbuf_init(b);
    if (out_tail) {
        out_tail->next = f;
    }
    else {
        out_head = f;
    }
    out_tail = f;
    out_bytes += f->len;
}

/*
 * Send m to the hub.  ctrl: a subscription change, sent only while
 * connected (the table is replayed on connection).  Else a publish or a
 * send: queued while the hub is unreachable, up to WS_CHANNELS_BACKLOG.
 * out_lock held.  WS_OK, WS_EQUEUE (dropped, counted), WS_EINVAL (too
 * large).
 */
static int send_locked(const ws_hubmsg_t *m, int ctrl)
{
    ws_hubbuf_t b;
    int was_empty = out_head == NULL;

    if (ctrl && !connected) {
        return WS_OK;
    }
    ws_hubbuf_init(&b);
    if (ws_hubmsg_encode(&b, m) != 0) {
        ws_hubbuf_free(&b);
        return WS_EINVAL;
    }
    if (!ctrl && out_bytes + b.len > WS_CHANNELS_BACKLOG
        && out_bytes > 0) {
        ws_hubbuf_free(&b);
        ws_stats_add(WS_STAT_CHANNEL_DROPPED, 1);
        if (outage_since) {
            outage_drops++;
        }
        return WS_EQUEUE;
    }
    append_locked(&b, ctrl);
    if (connected) {
        flush_locked();
        if (out_head && was_empty) {
            wake_thread();      /* to wait for the socket to take more */
        }
    }
    return WS_OK;
}

static int send_to_hub(const ws_hubmsg_t *m, int ctrl)
{
    int rv;

    pthread_mutex_lock(&out_lock);
    rv = send_locked(m, ctrl);
    pthread_mutex_unlock(&out_lock);
    return rv;
}

/* chan_lock held: ask the hub for s (SUB). */
static void sub_msg(const lsub_t *s, ws_hubmsg_t *m)
{
    memset(m, 0, sizeof(*m));
    m->type = WS_HUB_SUB;
    m->token = s->token;
    m->conn = s->conn;
    m->key = s->ch->key;
    m->key_len = s->ch->key_len;
    m->flags = (s->presence ? WS_HUB_SUB_PRESENCE : 0)
               | (s->active ? WS_HUB_SUB_QUIET : 0);
    m->label = (const uint8_t *)s->label;
    m->label_len = s->label_len;
    /* A re-subscription asks for what this child missed meanwhile. */
    m->since = s->active ? s->ch->last_id : s->since;
    m->last = s->last;
}

static void unsub_msg(const lsub_t *s, ws_hubmsg_t *m)
{
    memset(m, 0, sizeof(*m));
    m->type = WS_HUB_UNSUB;
    m->conn = s->conn;
    m->key = s->ch->key;
    m->key_len = s->ch->key_len;
}

/* --- the API --- */

static sess_rec_t *rec_of(ws_session_t *ws)
{
    return ws_session_area(ws, WS_AREA_CHANNELS);
}

int ws_channels_subscribe(ws_session_t *ws, const char *channel,
                          const ws_subscribe_options_t *opts)
{
    ws_location_t *loc = ws_session_location(ws);
    const char *label = NULL;
    size_t klen, llen = 0;
    uint8_t *key;
    uint64_t h;
    lchan_t *ch;
    lsub_t *s;
    sess_rec_t *rec = rec_of(ws);
    ws_hubmsg_t m;

    if (!channel || !loc) {
        return WS_EINVAL;
    }
    if (opts && opts->size >= offsetof(ws_subscribe_options_t, presence)
                              + sizeof(opts->presence)) {
        label = opts->presence;
    }
    if (label) {
        llen = strlen(label);
        if (llen > WS_CHANNELS_LABEL_MAX
            || !ws_utf8_valid((const uint8_t *)label, llen)) {
            return WS_EINVAL;
        }
    }
    if (!(key = make_key(loc->ns, channel, strlen(channel), &klen))) {
        return WS_EINVAL;
    }
    h = hash_bytes(key, klen, HASH_SEED);
    pthread_mutex_lock(&chan_lock);
    if (rec->gone || ws_session_state(ws) == WS_SESSION_ENDED) {
        pthread_mutex_unlock(&chan_lock);
        free(key);
        return WS_ECLOSED;
    }
    if (rec->count >= WS_CHANNELS_PER_CONN) {
        pthread_mutex_unlock(&chan_lock);
        free(key);
        return WS_ELIMIT;
    }
    ch = chan_find(key, klen, h);
    if (ch && sub_find(ch, ws_session_gid(ws))) {
        pthread_mutex_unlock(&chan_lock);
        free(key);
        return WS_EINVAL;
    }
    if ((!ch && !(ch = chan_make(key, klen, h)))
        || !(s = calloc(1, sizeof(*s)))) {
        if (ch) {
            chan_drop_if_empty(ch);
        }
        pthread_mutex_unlock(&chan_lock);
        free(key);
        return WS_EQUEUE;
    }
    free(key);
    s->ch = ch;
    s->ws = ws_session_ref(ws);
    s->conn = ws_session_gid(ws);
    s->token = ++next_sub_token;
    s->loc = loc;
    s->presence = label != NULL;
    s->label = label ? strdup(label) : NULL;
    s->label_len = llen;
    if (opts && opts->size >= offsetof(ws_subscribe_options_t, last)
                              + sizeof(opts->last)) {
        s->since = opts->since;
        s->last = opts->last;
    }
    s->next = ch->subs;
    if (s->next) {
        s->next->prev = s;
    }
    ch->subs = s;
    ch->nsubs++;
    {
        lsub_t **slot = (lsub_t **)&subs.slots[sub_hash(ch, s->conn)
                                               & (subs.size - 1)];

        s->hnext = *slot;
        *slot = s;
        subs.n++;
        subs_grow();
    }
    s->snext = rec->first;
    rec->first = s;
    rec->count++;
    ws_stats_add(WS_STAT_SUBSCRIPTIONS, 1);
    sub_msg(s, &m);
    send_to_hub(&m, 1);
    pthread_mutex_unlock(&chan_lock);
    return WS_OK;
}

/* chan_lock held: forget s (tell the hub), unlinked from its session's
 * list by the caller. */
static void sub_free(lsub_t *s)
{
    lchan_t *ch = s->ch;
    lsub_t **pp;
    ws_hubmsg_t m;

    unsub_msg(s, &m);
    send_to_hub(&m, 1);
    for (pp = (lsub_t **)&subs.slots[sub_hash(ch, s->conn)
                                     & (subs.size - 1)];
         *pp; pp = &(*pp)->hnext) {
        if (*pp == s) {
            *pp = s->hnext;
            break;
        }
    }
    subs.n--;
    if (s->prev) {
        s->prev->next = s->next;
    }
    else {
        ch->subs = s->next;
    }
    if (s->next) {
        s->next->prev = s->prev;
    }
    ch->nsubs--;
    chan_drop_if_empty(ch);
    ws_stats_add(WS_STAT_SUBSCRIPTIONS, (apr_uint64_t)-1);
    ws_session_unref(s->ws);
    free(s->label);
    free(s);
}

int ws_channels_unsubscribe(ws_session_t *ws, const char *channel)
{
    ws_location_t *loc = ws_session_location(ws);
    sess_rec_t *rec = rec_of(ws);
    lsub_t **pp, *s = NULL;
    size_t klen;
    uint8_t *key;
    lchan_t *ch;

    if (!channel || !loc
        || !(key = make_key(loc->ns, channel, strlen(channel), &klen))) {
        return WS_EINVAL;
    }
    pthread_mutex_lock(&chan_lock);
    ch = chan_find(key, klen, hash_bytes(key, klen, HASH_SEED));
    free(key);
    for (pp = &rec->first; ch && *pp; pp = &(*pp)->snext) {
        if ((*pp)->ch == ch) {
            s = *pp;
            *pp = s->snext;
            rec->count--;
            break;
        }
    }
    if (s) {
        sub_free(s);
    }
    pthread_mutex_unlock(&chan_lock);
    return s ? WS_OK : WS_EINVAL;
}

/* A session ended (ws_session_on_end): its subscriptions end. */
static void session_ended(ws_session_t *ws)
{
    sess_rec_t *rec = rec_of(ws);
    lsub_t *s;

    pthread_mutex_lock(&chan_lock);
    rec->gone = 1;
    while ((s = rec->first)) {
        rec->first = s->snext;
        sub_free(s);
    }
    rec->count = 0;
    pthread_mutex_unlock(&chan_lock);
}

/* The connection whose callback we are in (the publisher), or 0. */
static ws_connid_t current_publisher(void)
{
    ws_session_t *cur = ws_session_current();

    return cur ? ws_session_gid(cur) : 0;
}

static int publish_check(ws_msg_type_e type, const void *data, size_t len)
{
    if ((type != WS_MSG_TEXT && type != WS_MSG_BINARY) || (len && !data)
        || len > WS_HUB_MAX_PAYLOAD) {
        return WS_EINVAL;
    }
    if (type == WS_MSG_TEXT && !ws_utf8_valid(data, len)) {
        return WS_EINVAL;
    }
    return WS_OK;
}

int ws_channels_publish(ws_location_t *loc, const char *channel,
                        ws_msg_type_e type, const void *data, size_t len,
                        ws_connid_t exclude)
{
    ws_hubmsg_t m;
    uint8_t *key;
    size_t klen;
    int rv;

    if (!loc || !channel || publish_check(type, data, len) != WS_OK
        || !(key = make_key(loc->ns, channel, strlen(channel), &klen))) {
        return WS_EINVAL;
    }
    memset(&m, 0, sizeof(m));
    m.type = WS_HUB_PUB;
    m.conn = exclude ? exclude : current_publisher();
    m.exclude = exclude;
    m.key = key;
    m.key_len = klen;
    m.msgtype = (uint32_t)type;
    m.count = (uint32_t)ws_conf_history_count(loc->conf);
    m.age = (uint64_t)ws_conf_history_age(loc->conf);
    m.data = data;
    m.data_len = len;
    rv = send_to_hub(&m, 0);
    free(key);
    if (rv == WS_OK) {
        ws_stats_add(WS_STAT_PUBLISHED, 1);
    }
    return rv;
}

/* A message for one of this child's connections (by its per-child id). */
static void send_local(unsigned long local, ws_msg_type_e type,
                       const void *data, size_t len)
{
    ws_session_t *ws = ws_registry_find(local);

    if (!ws || ws_session_send(ws, type, data, len) != WS_OK) {
        ws_stats_add(WS_STAT_CHANNEL_DROPPED, 1);
    }
    if (ws) {
        ws_session_unref(ws);
    }
}

int ws_channels_send_to(ws_connid_t id, ws_msg_type_e type,
                        const void *data, size_t len)
{
    ws_hubmsg_t m;

    if (publish_check(type, data, len) != WS_OK || id == 0) {
        return WS_EINVAL;
    }
    if (ws_ids_child_of(id) == ws_ids_child()) {
        send_local((unsigned long)(id & 0xffffffffu), type, data, len);
        return WS_OK;
    }
    memset(&m, 0, sizeof(m));
    m.type = WS_HUB_SENDTO;
    m.conn = id;
    m.msgtype = (uint32_t)type;
    m.data = data;
    m.data_len = len;
    return send_to_hub(&m, 0);
}

/* --- HTTP publishing: a worker waits for the hub's answer --- */

static apr_status_t request_wait(ws_hubmsg_t *m, apr_interval_time_t timeout,
                                 ws_channel_info_t *out)
{
    struct timespec until;
    req_t r;
    req_t **pp;
    apr_time_t deadline = apr_time_now() + timeout;
    apr_status_t rv = APR_SUCCESS;

    memset(&r, 0, sizeof(r));
    pthread_cond_init(&r.cond, NULL);
    pthread_mutex_lock(&out_lock);
    if (!connected || broken) {
        pthread_mutex_unlock(&out_lock);
        pthread_cond_destroy(&r.cond);
        return APR_ECONNREFUSED;
    }
    r.token = m->token = ++next_token;
    r.next = reqs;
    reqs = &r;
    if (send_locked(m, 0) != WS_OK) {
        r.done = -1;
    }
    until.tv_sec = (time_t)apr_time_sec(deadline);
    until.tv_nsec = (long)apr_time_usec(deadline) * 1000;
    while (!r.done) {
        if (pthread_cond_timedwait(&r.cond, &out_lock, &until) == ETIMEDOUT) {
            break;
        }
    }
    for (pp = &reqs; *pp; pp = &(*pp)->next) {
        if (*pp == &r) {
            *pp = r.next;
            break;
        }
    }
    if (r.done == 1) {
        *out = r.info;
    }
    else {
        rv = r.done == -1 ? APR_ECONNREFUSED : APR_TIMEUP;
    }
    pthread_mutex_unlock(&out_lock);
    pthread_cond_destroy(&r.cond);
    return rv;
}

apr_status_t ws_channels_publish_wait(const char *ns, const char *channel,
                                      size_t channel_len, ws_msg_type_e type,
                                      const void *data, size_t len,
                                      int history_count,
                                      apr_interval_time_t history_age,
                                      apr_interval_time_t timeout,
                                      ws_channel_info_t *out)
{
    ws_hubmsg_t m;
    uint8_t *key;
    size_t klen;
    apr_status_t rv;

    if (publish_check(type, data, len) != WS_OK
        || !(key = make_key(ns, channel, channel_len, &klen))) {
        return APR_EINVAL;
    }
    memset(&m, 0, sizeof(m));
    m.type = WS_HUB_PUB;
    m.key = key;
    m.key_len = klen;
    m.msgtype = (uint32_t)type;
    m.count = (uint32_t)history_count;
    m.age = (uint64_t)history_age;
    m.data = data;
    m.data_len = len;
    rv = request_wait(&m, timeout, out);
    free(key);
    if (rv == APR_SUCCESS) {
        ws_stats_add(WS_STAT_PUBLISHED, 1);
    }
    return rv;
}

apr_status_t ws_channels_info_wait(const char *ns, const char *channel,
                                   size_t channel_len,
                                   apr_interval_time_t timeout,
                                   ws_channel_info_t *out)
{
    ws_hubmsg_t m;
    uint8_t *key;
    size_t klen;
    apr_status_t rv;

    if (!(key = make_key(ns, channel, channel_len, &klen))) {
        return APR_EINVAL;
    }
    memset(&m, 0, sizeof(m));
    m.type = WS_HUB_INFO;
    m.key = key;
    m.key_len = klen;
    rv = request_wait(&m, timeout, out);
    free(key);
    return rv;
}

/* The channel thread: an answer for a waiting publisher. */
static void answer(const ws_hubmsg_t *m)
{
    req_t *r;

    pthread_mutex_lock(&out_lock);
    for (r = reqs; r; r = r->next) {
        if (r->token == m->token) {
            r->info.id = m->id;
            r->info.subscribers = m->subscribers;
            r->info.members = m->nmembers;
            r->info.kept = m->count;
            r->info.oldest = m->since;
            r->done = 1;
            pthread_cond_signal(&r->cond);
            break;
        }
    }
    pthread_mutex_unlock(&out_lock);
}

/* --- delivery (the channel thread) --- */

struct ws_delivery {
    ws_location_t *loc;
    ws_msg_type_e type;
    ws_shared_t *sh;            /* what api->deliver made, or NULL */
};

int ws_channels_deliver(ws_delivery_t *d, ws_msg_type_e type,
                        const void *data, size_t len)
{
    if (!d || d->sh || publish_check(type, data, len) != WS_OK) {
        return WS_EINVAL;
    }
    if (!(d->sh = ws_shared_create(data, len))) {
        return WS_EQUEUE;
    }
    d->type = type;
    return WS_OK;
}

/* The locations with on_channel_event among a channel's subscribers. */
#define MAX_FORMATTERS 32

static ws_location_t *formatter_of(const lsub_t *s)
{
    ws_location_t *loc = s->loc;

    return loc && loc->ready && loc->plugin->h->on_channel_event ? loc : NULL;
}

static void on_deliver(const ws_hubmsg_t *m)
{
    struct ws_delivery d[MAX_FORMATTERS];
    ws_channel_event_t ev;
    ws_shared_t *plain = NULL, *text = NULL;
    uint64_t h = hash_bytes(m->key, m->key_len, HASH_SEED);
    char name[WS_NAME_MAX + 1];
    size_t nloc = 0, i, nlen;
    const uint8_t *nul;
    lchan_t *ch;
    lsub_t *s;
    int is_msg = m->event == WS_CHANNEL_MESSAGE;

    nul = memchr(m->key, 0, m->key_len);
    if (!nul || (nlen = m->key_len - (size_t)(nul + 1 - m->key))
                    > WS_NAME_MAX) {
        return;
    }
    memcpy(name, nul + 1, nlen);
    name[nlen] = '\0';
    /* The payload (NUL-terminated, as handlers get text). */
    if (!(text = ws_shared_create(m->data, m->data_len))) {
        return;
    }
    memset(&ev, 0, sizeof(ev));
    ev.event = (ws_channel_event_e)m->event;
    ev.channel = name;
    ev.id = is_msg ? m->id : 0;
    ev.time_ms = (long long)(m->time / 1000);
    ev.type = is_msg ? (ws_msg_type_e)m->msgtype : WS_MSG_TEXT;
    ev.data = (const char *)text->data;
    ev.len = text->len;
    ev.conn_id = m->conn;
    ev.subscribers = m->subscribers;

    /* Which locations format it (their callbacks run without the lock). */
    pthread_mutex_lock(&chan_lock);
    ch = chan_find(m->key, m->key_len, h);
    for (s = ch ? ch->subs : NULL; s && nloc < MAX_FORMATTERS; s = s->next) {
        ws_location_t *loc = s->active ? formatter_of(s) : NULL;

        for (i = 0; loc && i < nloc && d[i].loc != loc; i++) {
        }
        if (loc && i == nloc) {
            d[nloc].loc = loc;
            d[nloc].sh = NULL;
            nloc++;
        }
    }
    pthread_mutex_unlock(&chan_lock);
    if (!ch) {
        ws_shared_unref(text);
        return;
    }
    for (i = 0; i < nloc; i++) {
        d[i].loc->plugin->h->on_channel_event(d[i].loc, &ev, &d[i]);
    }
    if (is_msg) {
        plain = text;
    }

    pthread_mutex_lock(&chan_lock);
    ch = chan_find(m->key, m->key_len, h);
    if (ch && is_msg) {
        if (m->id <= ch->last_id) {
            ch = NULL;          /* a repeat: delivered here already */
        }
        else {
            ch->last_id = m->id;
        }
    }
    for (s = ch ? ch->subs : NULL; s; s = s->next) {
        ws_location_t *loc;
        ws_shared_t *sh = NULL;
        ws_msg_type_e type = ev.type;

        if (!s->active || (m->exclude && s->conn == m->exclude)
            || (is_msg && m->id <= s->after)) {
            continue;
        }
        if ((loc = formatter_of(s))) {
            for (i = 0; i < nloc && d[i].loc != loc; i++) {
            }
            if (i < nloc) {
                sh = d[i].sh;
                type = d[i].type;
            }
        }
        else {
            sh = plain;
        }
        if (sh) {
            ws_session_send_shared(s->ws, type, sh);
            ws_stats_add(WS_STAT_DELIVERED, 1);
        }
    }
    pthread_mutex_unlock(&chan_lock);
    for (i = 0; i < nloc; i++) {
        ws_shared_unref(d[i].sh);
    }
    ws_shared_unref(text);
}

/* What on_subscribed gets: the result and its arrays in one block. */
typedef struct {
    ws_subscription_t sub;
    ws_location_t *loc;
    uint8_t *frame;             /* a copy of SUBACK's lists */
} subres_t;

static void subres_free(void *arg)
{
    subres_t *r = arg;

    free(r->frame);
    free(r);
}

static void subres_call(void *target, void *arg)
{
    ws_session_t *ws = target;
    subres_t *r = arg;
    const ws_handler_t *h = ws_session_plugin(ws)->h;

    if (h->on_subscribed) {
        h->on_subscribed(ws, &r->sub);
    }
}

/* Build on_subscribed's result from a SUBACK (NULL if memory ran out). */
static subres_t *subres_make(const ws_hubmsg_t *m, const char *name)
{
    size_t nlen = strlen(name), i, pos;
    size_t total = nlen + 1 + m->history_len + m->members_len
                   + m->count * sizeof(ws_channel_event_t)
                   + m->nmembers * sizeof(ws_presence_member_t)
                   + (m->count + m->nmembers) * 1 + 16;
    subres_t *r = calloc(1, sizeof(*r));
    uint8_t *p;
    ws_channel_event_t *hist;
    ws_presence_member_t *mem;

    if (!r || !(r->frame = malloc(total))) {
        free(r);
        return NULL;
    }
    p = r->frame;
    hist = (ws_channel_event_t *)p;
    p += m->count * sizeof(*hist);
    mem = (ws_presence_member_t *)p;
    p += m->nmembers * sizeof(*mem);
    memcpy(p, name, nlen + 1);
    r->sub.channel = (const char *)p;
    p += nlen + 1;
    for (i = 0, pos = 0; i < m->count; i++) {
        ws_hubhist_t rec;

        if (ws_hubhist_next(m->history, m->history_len, &pos, &rec) != 1) {
            break;
        }
        memset(&hist[i], 0, sizeof(hist[i]));
        hist[i].event = WS_CHANNEL_MESSAGE;
        hist[i].channel = r->sub.channel;
        hist[i].id = rec.id;
        hist[i].time_ms = (long long)(rec.time / 1000);
        hist[i].type = (ws_msg_type_e)rec.msgtype;
        memcpy(p, rec.data, rec.data_len);
        p[rec.data_len] = '\0';
        hist[i].data = (const char *)p;
        hist[i].len = rec.data_len;
        hist[i].conn_id = rec.conn;
        p += rec.data_len + 1;
    }
    r->sub.history = hist;
    r->sub.nhistory = i;
    for (i = 0, pos = 0; i < m->nmembers; i++) {
        ws_hubmember_t rec;

        if (ws_hubmember_next(m->members, m->members_len, &pos, &rec) != 1) {
            break;
        }
        memcpy(p, rec.label, rec.label_len);
        p[rec.label_len] = '\0';
        mem[i].conn_id = rec.conn;
        mem[i].label = (const char *)p;
        mem[i].len = rec.label_len;
        p += rec.label_len + 1;
    }
    r->sub.members = mem;
    r->sub.nmembers = i;
    r->sub.gap = m->gap != 0;
    r->sub.last_id = m->id;
    r->sub.subscribers = m->subscribers;
    return r;
}

static void on_suback(const ws_hubmsg_t *m)
{
    uint64_t h = hash_bytes(m->key, m->key_len, HASH_SEED);
    ws_session_t *ws = NULL;
    ws_location_t *loc = NULL;
    subres_t *r;
    lchan_t *ch;
    lsub_t *s;
    char name[WS_NAME_MAX + 1];

    pthread_mutex_lock(&chan_lock);
    ch = chan_find(m->key, m->key_len, h);
    s = ch ? sub_find(ch, m->conn) : NULL;
    /* An answer to an earlier subscription of the connection (ended
     * since) is not this one's. */
    if (s && !s->active && s->token == m->token) {
        s->active = 1;
        s->after = m->id;
        ws = ws_session_ref(s->ws);
        loc = s->loc;
        apr_cpystrn(name, ch->name, sizeof(name));
    }
    pthread_mutex_unlock(&chan_lock);
    if (!ws) {
        return;
    }
    if (loc->plugin->h->on_subscribed) {
        if ((r = subres_make(m, name))) {
            r->loc = loc;
            ws_session_post_call(ws, subres_call, subres_free, r);
        }
    }
    else {
        /* No on_subscribed: the replay goes to the connection as is. */
        size_t pos = 0;
        ws_hubhist_t rec;

        while (ws_hubhist_next(m->history, m->history_len, &pos, &rec) == 1) {
            ws_session_send(ws, (ws_msg_type_e)rec.msgtype, rec.data,
                            rec.data_len);
        }
    }
    ws_session_unref(ws);
}

static void dispatch(const ws_hubmsg_t *m)
{
    switch (m->type) {
    case WS_HUB_DELIVER:
        on_deliver(m);
        break;
    case WS_HUB_SUBACK:
        on_suback(m);
        break;
    case WS_HUB_PUBACK:
    case WS_HUB_INFOACK:
        answer(m);
        break;
    case WS_HUB_DIRECT:
        if (ws_ids_child_of(m->conn) == ws_ids_child()) {
            send_local((unsigned long)(m->conn & 0xffffffffu),
                       (ws_msg_type_e)m->msgtype, m->data, m->data_len);
        }
        break;
    default:                    /* WELCOME */
        break;
    }
}

/* --- the connection to the hub (the channel thread) --- */

static int hub_connect(void)
{
    const char *path = ws_hub_socket_path();
    struct sockaddr_un sa;
    int fd;

    if (!path) {
        return -1;
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -1;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    apr_cpystrn(sa.sun_path, path, sizeof(sa.sun_path));
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Connected: HELLO, every subscription again, then what was queued. */
static void on_connected(int fd)
{
    frame_t *kept, *f;
    ws_hubmsg_t m;
    ws_hubbuf_t b;
    size_t i;
    lsub_t *s;
    lchan_t *c;
    apr_time_t was_down;
    uint64_t drops;

    pthread_mutex_lock(&chan_lock);
    pthread_mutex_lock(&out_lock);
    kept = out_head;            /* publishes queued while down */
    out_head = out_tail = NULL;
    out_bytes = 0;
    memset(&m, 0, sizeof(m));
    m.type = WS_HUB_HELLO;
    m.version = WS_HUB_PROTO_VERSION;
    m.child = ws_ids_child();
    m.pid = (uint32_t)getpid();
    m.memory = (uint64_t)ws_channel_memory;
    ws_hubbuf_init(&b);
    if (ws_hubmsg_encode(&b, &m) == 0) {
        append_locked(&b, 1);
    }
    for (i = 0; i < chans.size; i++) {
        for (c = chans.slots[i]; c; c = c->hnext) {
            for (s = c->subs; s; s = s->next) {
                sub_msg(s, &m);
                if (ws_hubmsg_encode(&b, &m) == 0) {
                    append_locked(&b, 1);
                }
            }
        }
    }
    ws_hubbuf_free(&b);
    for (f = kept; f; f = f->next) {
        out_bytes += f->len;
        if (out_tail) {
            out_tail->next = f;
        }
        else {
            out_head = f;
        }
        out_tail = f;
    }
    hub_fd = fd;
    connected = 1;
    broken = 0;
    was_down = outage_since;
    drops = outage_drops;
    outage_since = 0;
    outage_drops = 0;
    flush_locked();
    pthread_mutex_unlock(&out_lock);
    pthread_mutex_unlock(&chan_lock);
    if (was_down) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, chan_server, WSLOGNO(00084)
                     "channel hub reachable again after %" APR_TIME_T_FMT
                     " ms; %" APR_UINT64_T_FMT " publishes were dropped "
                     "meanwhile", apr_time_as_msec(apr_time_now() - was_down),
                     drops);
    }
}

/* The hub went away: keep the publishes queued, forget the rest. */
static void on_disconnected(void)
{
    frame_t **pp, *f;
    req_t *r;

    pthread_mutex_lock(&out_lock);
    close(hub_fd);
    hub_fd = -1;
    connected = 0;
    broken = 0;
    for (pp = &out_head; (f = *pp);) {
        /* A frame half written is lost with the connection. */
        if (f->ctrl || f->off) {
            *pp = f->next;
            out_bytes -= f->len;
            free(f->data);
            free(f);
        }
        else {
            pp = &f->next;
        }
    }
    out_tail = NULL;
    for (f = out_head; f; f = f->next) {
        out_tail = f;
    }
    for (r = reqs; r; r = r->next) {
        r->done = -1;
        pthread_cond_signal(&r->cond);
    }
    outage_since = apr_time_now();
    pthread_mutex_unlock(&out_lock);
    in_len = 0;
    if (!__atomic_load_n(&stop_flag, __ATOMIC_ACQUIRE)) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, chan_server,
                     WSLOGNO(00085) "the channel hub went away: channel "
                     "messages from other children stop until it is back; "
                     "publishes wait (up to %u bytes, then are dropped)",
                     WS_CHANNELS_BACKLOG);
    }
}

/* Read what the hub sent; -1 if the connection ended. */
static int read_hub(void)
{
    for (;;) {
        size_t pos = 0;
        ssize_t r;

        if (in_cap - in_len < 65536) {
            size_t cap = in_cap ? in_cap * 2 : 262144;
            uint8_t *b;

            if (cap > WS_HUB_MAX_FRAME + 262144) {
                cap = WS_HUB_MAX_FRAME + 262144;
            }
            if (cap <= in_cap || !(b = realloc(in_buf, cap))) {
                return -1;
            }
            in_buf = b;
            in_cap = cap;
        }
        r = recv(hub_fd, in_buf + in_len, in_cap - in_len, MSG_DONTWAIT);
        if (r == 0) {
            return -1;
        }
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
        }
        in_len += (size_t)r;
        for (;;) {
            ws_hubmsg_t m;
            long n = ws_hubmsg_decode(in_buf + pos, in_len - pos, &m);

            if (n == 0) {
                break;
            }
            if (n < 0) {
                ap_log_error(APLOG_MARK, APLOG_ERR, 0, chan_server,
                             WSLOGNO(00086) "the channel hub sent a "
                             "malformed frame; reconnecting");
                return -1;
            }
            dispatch(&m);
            pos += (size_t)n;
        }
        if (pos) {
            memmove(in_buf, in_buf + pos, in_len - pos);
            in_len -= pos;
        }
        if (in_cap > 1048576 && in_len < 65536) {
            uint8_t *b = realloc(in_buf, 262144);

            if (b) {
                in_buf = b;
                in_cap = 262144;
            }
        }
    }
}

static void *APR_THREAD_FUNC channel_thread(apr_thread_t *thd, void *data)
{
    apr_interval_time_t backoff = apr_time_from_msec(10);
    int fd = -1;

    (void)thd; (void)data;
    while (!__atomic_load_n(&stop_flag, __ATOMIC_ACQUIRE)) {
        struct pollfd pfd[2];
        int want_out, n;

        if (fd < 0) {
            fd = hub_connect();
            if (fd < 0) {
                pfd[0].fd = evfd;
                pfd[0].events = POLLIN;
                poll(pfd, 1, (int)apr_time_as_msec(backoff));
                backoff = backoff * 2 > apr_time_from_sec(1)
                          ? apr_time_from_sec(1) : backoff * 2;
                continue;
            }
            backoff = apr_time_from_msec(10);
            on_connected(fd);
        }
        pthread_mutex_lock(&out_lock);
        want_out = out_head != NULL;
        n = broken;
        pthread_mutex_unlock(&out_lock);
        if (n) {
            on_disconnected();
            fd = -1;
            continue;
        }
        pfd[0].fd = fd;
        pfd[0].events = POLLIN | (want_out ? POLLOUT : 0);
        pfd[1].fd = evfd;
        pfd[1].events = POLLIN;
        n = poll(pfd, 2, 1000);
        if (n < 0) {
            continue;
        }
        if (pfd[1].revents & POLLIN) {
            uint64_t v;

            if (read(evfd, &v, sizeof(v)) < 0) {
                /* nothing pending */
            }
        }
        if (pfd[0].revents & POLLOUT) {
            pthread_mutex_lock(&out_lock);
            flush_locked();
            pthread_mutex_unlock(&out_lock);
        }
        if ((pfd[0].revents & (POLLIN | POLLHUP | POLLERR))
            && read_hub() != 0) {
            on_disconnected();
            fd = -1;
        }
    }
    __atomic_store_n(&thread_done, 1, __ATOMIC_RELEASE);
    return NULL;
}

/*
 * The child exits.  Under prefork this may run from httpd's SIGTERM
 * handler: no lock, no join; the thread is told to stop and given a
 * moment (it touches no handler code once no session is left).
 */
static apr_status_t child_exit(void *data)
{
    struct timespec ts = { 0, 10 * 1000 * 1000 };
    int i;

    (void)data;
    if (!started) {
        return APR_SUCCESS;
    }
    __atomic_store_n(&stop_flag, 1, __ATOMIC_RELEASE);
    wake_thread();
    for (i = 0; i < 100 && !__atomic_load_n(&thread_done, __ATOMIC_ACQUIRE);
         i++) {
        nanosleep(&ts, NULL);
    }
    return APR_SUCCESS;
}

void ws_channels_child_init(apr_pool_t *pchild, server_rec *s)
{
    apr_thread_t *thd;
    apr_threadattr_t *attr;

    chan_server = s;
    ws_session_on_end(session_ended);
    if (table_init(&chans) != 0 || table_init(&subs) != 0
        || (evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) {
        ap_log_error(APLOG_MARK, APLOG_ERR, errno, s, WSLOGNO(00087)
                     "cannot set up channels in this child");
        return;
    }
    apr_threadattr_create(&attr, pchild);
    apr_threadattr_detach_set(attr, 1);
    if (apr_thread_create(&thd, attr, channel_thread, NULL, pchild)
        != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, WSLOGNO(00088)
                     "cannot start the channel thread in this child");
        return;
    }
    started = 1;
    apr_pool_cleanup_register(pchild, NULL, child_exit,
                              apr_pool_cleanup_null);
}
