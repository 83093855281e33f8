/*
 * ws_hubstore.c -- the channel hub's embedded store (see ws_hubstore.h).
 *
 * Two hash tables (channels by key; subscriptions by channel and
 * connection), per-target lists of subscriptions, per-channel lists of
 * presence members and of history, and one store-wide list of history in
 * id order for the memory limit.
 */
#include <stdlib.h>
#include <string.h>

#include "ws_hubstore.h"

struct ws_hubchan {
    ws_hubchan_t *hnext;        /* the channel table's chain */
    uint8_t *key;
    size_t key_len;
    uint64_t hash;
    uint32_t subscribers;
    uint32_t members;
    ws_hubroute_t *routes;
    size_t nroutes, routes_cap;
    ws_hubsub_t *presence;      /* newest first */
    ws_hubmsg_rec_t *oldest, *newest;
    uint32_t kept;
    uint32_t keep_count;        /* the latest publish's settings */
    uint64_t keep_age;
    uint64_t last_id;
    uint64_t complete_after;    /* history is complete after this id */
};

typedef struct {
    void **slots;
    size_t size;                /* a power of 2 */
    size_t n;
} table_t;

struct ws_hubstore {
    table_t chans;
    table_t subs;
    ws_hubsub_t **targets;      /* first subscription of each target */
    size_t ntargets;
    ws_hubmsg_rec_t *oldest, *newest;      /* all history */
    size_t messages;
    size_t bytes;
    size_t memory;
    uint64_t evicted;
    uint64_t last_id;
};

/* FNV-1a. */
static uint64_t hash_bytes(const uint8_t *p, size_t n, uint64_t h)
{
    size_t i;

    for (i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ULL;
    }
    return h;
}

#define HASH_SEED 14695981039346656037ULL

static uint64_t sub_hash(const ws_hubchan_t *ch, uint64_t conn)
{
    uint64_t h = hash_bytes((const uint8_t *)&ch, sizeof(ch), HASH_SEED);

    return hash_bytes((const uint8_t *)&conn, sizeof(conn), h);
}

static int table_init(table_t *t)
{
    t->size = 64;
    t->n = 0;
    t->slots = calloc(t->size, sizeof(void *));
    return t->slots ? 0 : -1;
}

/* --- channels --- */

static ws_hubchan_t **chan_slot(ws_hubstore_t *st, uint64_t h)
{
    return (ws_hubchan_t **)&st->chans.slots[h & (st->chans.size - 1)];
}

static void chans_grow(ws_hubstore_t *st)
{
    table_t old = st->chans;
    size_t i;

    if (st->chans.n < st->chans.size) {
        return;
    }
    st->chans.slots = calloc(old.size * 2, sizeof(void *));
    if (!st->chans.slots) {
        st->chans = old;
        return;
    }
    st->chans.size = old.size * 2;
    for (i = 0; i < old.size; i++) {
        ws_hubchan_t *c = old.slots[i], *next;

        for (; c; c = next) {
            ws_hubchan_t **slot = chan_slot(st, c->hash);

            next = c->hnext;
            c->hnext = *slot;
            *slot = c;
        }
    }
    free(old.slots);
}

ws_hubchan_t *ws_hubstore_channel(ws_hubstore_t *st, const uint8_t *key,
                                  size_t key_len, int make)
{
    uint64_t h = hash_bytes(key, key_len, HASH_SEED);
    ws_hubchan_t *c, **slot = chan_slot(st, h);

    for (c = *slot; c; c = c->hnext) {
        if (c->hash == h && c->key_len == key_len
            && !memcmp(c->key, key, key_len)) {
            return c;
        }
    }
    if (!make || !(c = calloc(1, sizeof(*c)))
        || !(c->key = malloc(key_len + 1))) {
        free(c);
        return NULL;
    }
    memcpy(c->key, key, key_len);
    c->key[key_len] = '\0';
    c->key_len = key_len;
    c->hash = h;
    /* Any message with an id up to the channel's birth was published
     * before this store knew it (an earlier channel of the name, or an
     * earlier hub): a resume from there may have missed some. */
    c->complete_after = st->last_id;
    c->hnext = *slot;
    *slot = c;
    st->chans.n++;
    chans_grow(st);
    return c;
}

static void drop_oldest(ws_hubstore_t *st, ws_hubchan_t *ch);

/* Free ch if nothing keeps it. */
static void chan_gc(ws_hubstore_t *st, ws_hubchan_t *ch)
{
    ws_hubchan_t **pp;

    if (ch->subscribers || ch->kept) {
        return;
    }
    for (pp = chan_slot(st, ch->hash); *pp; pp = &(*pp)->hnext) {
        if (*pp == ch) {
            *pp = ch->hnext;
            break;
        }
    }
    st->chans.n--;
    free(ch->routes);
    free(ch->key);
    free(ch);
}

const uint8_t *ws_hubchan_key(const ws_hubchan_t *ch, size_t *len)
{
    *len = ch->key_len;
    return ch->key;
}

uint32_t ws_hubchan_subscribers(const ws_hubchan_t *ch)
{
    return ch->subscribers;
}

uint32_t ws_hubchan_members(const ws_hubchan_t *ch)
{
    return ch->members;
}

uint64_t ws_hubchan_last_id(const ws_hubchan_t *ch)
{
    return ch->last_id;
}

uint32_t ws_hubchan_kept(const ws_hubchan_t *ch)
{
    return ch->kept;
}

uint64_t ws_hubchan_oldest_id(const ws_hubchan_t *ch)
{
    return ch->oldest ? ch->oldest->id : 0;
}

const ws_hubroute_t *ws_hubchan_routes(const ws_hubchan_t *ch, size_t *n)
{
    *n = ch->nroutes;
    return ch->routes;
}

const ws_hubsub_t *ws_hubchan_presence(const ws_hubchan_t *ch)
{
    return ch->presence;
}

/* --- routes --- */

static int route_add(ws_hubchan_t *ch, uint32_t target)
{
    size_t i;

    for (i = 0; i < ch->nroutes; i++) {
        if (ch->routes[i].target == target) {
            ch->routes[i].count++;
            return 0;
        }
    }
    if (ch->nroutes == ch->routes_cap) {
        size_t cap = ch->routes_cap ? ch->routes_cap * 2 : 4;
        ws_hubroute_t *r = realloc(ch->routes, cap * sizeof(*r));

        if (!r) {
            return -1;
        }
        ch->routes = r;
        ch->routes_cap = cap;
    }
    ch->routes[ch->nroutes].target = target;
    ch->routes[ch->nroutes].count = 1;
    ch->nroutes++;
    return 0;
}

static void route_remove(ws_hubchan_t *ch, uint32_t target)
{
    size_t i;

    for (i = 0; i < ch->nroutes; i++) {
        if (ch->routes[i].target == target) {
            if (--ch->routes[i].count == 0) {
                ch->routes[i] = ch->routes[--ch->nroutes];
            }
            return;
        }
    }
}

/* --- subscriptions --- */

static ws_hubsub_t **sub_slot(ws_hubstore_t *st, const ws_hubchan_t *ch,
                              uint64_t conn)
{
    return (ws_hubsub_t **)&st->subs.slots[sub_hash(ch, conn)
                                           & (st->subs.size - 1)];
}

static void subs_grow(ws_hubstore_t *st)
{
    table_t old = st->subs;
    size_t i;

    if (st->subs.n < st->subs.size) {
        return;
    }
    st->subs.slots = calloc(old.size * 2, sizeof(void *));
    if (!st->subs.slots) {
        st->subs = old;
        return;
    }
    st->subs.size = old.size * 2;
    for (i = 0; i < old.size; i++) {
        ws_hubsub_t *s = old.slots[i], *next;

        for (; s; s = next) {
            ws_hubsub_t **slot = sub_slot(st, s->chan, s->conn);

            next = s->hnext;
            s->hnext = *slot;
            *slot = s;
        }
    }
    free(old.slots);
}

ws_hubsub_t *ws_hubstore_find(ws_hubstore_t *st, ws_hubchan_t *ch,
                              uint64_t conn)
{
    ws_hubsub_t *s;

    for (s = *sub_slot(st, ch, conn); s; s = s->hnext) {
        if (s->chan == ch && s->conn == conn) {
            return s;
        }
    }
    return NULL;
}

static int targets_reserve(ws_hubstore_t *st, uint32_t target)
{
    size_t n;
    ws_hubsub_t **t;

    if (target < st->ntargets) {
        return 0;
    }
    n = st->ntargets ? st->ntargets : 16;
    while (n <= target) {
        n *= 2;
    }
    if (!(t = realloc(st->targets, n * sizeof(*t)))) {
        return -1;
    }
    memset(t + st->ntargets, 0, (n - st->ntargets) * sizeof(*t));
    st->targets = t;
    st->ntargets = n;
    return 0;
}

ws_hubsub_t *ws_hubstore_subscribe(ws_hubstore_t *st, ws_hubchan_t *ch,
                                   uint64_t conn, uint32_t target,
                                   int presence, const uint8_t *label,
                                   size_t label_len, int *exists)
{
    ws_hubsub_t *s, **slot;

    *exists = 0;
    if (ws_hubstore_find(st, ch, conn)) {
        *exists = 1;
        return NULL;
    }
    if (targets_reserve(st, target) != 0 || !(s = calloc(1, sizeof(*s)))) {
        return NULL;
    }
    if (!(s->label = malloc(label_len + 1)) || route_add(ch, target) != 0) {
        free(s->label);
        free(s);
        return NULL;
    }
    if (label_len) {
        memcpy(s->label, label, label_len);
    }
    s->label[label_len] = '\0';
    s->label_len = label_len;
    s->chan = ch;
    s->conn = conn;
    s->target = target;
    s->presence = presence;
    slot = sub_slot(st, ch, conn);
    s->hnext = *slot;
    *slot = s;
    st->subs.n++;
    s->tnext = st->targets[target];
    if (s->tnext) {
        s->tnext->tprev = s;
    }
    st->targets[target] = s;
    if (presence) {
        s->pnext = ch->presence;
        if (s->pnext) {
            s->pnext->pprev = s;
        }
        ch->presence = s;
        ch->members++;
    }
    ch->subscribers++;
    subs_grow(st);
    return s;
}

void ws_hubstore_unsubscribe(ws_hubstore_t *st, ws_hubsub_t *s)
{
    ws_hubchan_t *ch = s->chan;
    ws_hubsub_t **pp;

    for (pp = sub_slot(st, ch, s->conn); *pp; pp = &(*pp)->hnext) {
        if (*pp == s) {
            *pp = s->hnext;
            break;
        }
    }
    st->subs.n--;
    if (s->tprev) {
        s->tprev->tnext = s->tnext;
    }
    else {
        st->targets[s->target] = s->tnext;
    }
    if (s->tnext) {
        s->tnext->tprev = s->tprev;
    }
    if (s->presence) {
        if (s->pprev) {
            s->pprev->pnext = s->pnext;
        }
        else {
            ch->presence = s->pnext;
        }
        if (s->pnext) {
            s->pnext->pprev = s->pprev;
        }
        ch->members--;
    }
    route_remove(ch, s->target);
    ch->subscribers--;
    free(s->label);
    free(s);
    chan_gc(st, ch);
}

void ws_hubstore_each_subscribed(ws_hubstore_t *st,
                                 void (*fn)(ws_hubchan_t *ch, void *arg),
                                 void *arg)
{
    size_t i;
    ws_hubchan_t *ch;

    for (i = 0; i < st->chans.size; i++) {
        for (ch = st->chans.slots[i]; ch; ch = ch->hnext) {
            if (ch->subscribers) {
                fn(ch, arg);
            }
        }
    }
}

ws_hubsub_t *ws_hubstore_target_first(ws_hubstore_t *st, uint32_t target)
{
    return target < st->ntargets ? st->targets[target] : NULL;
}

/* --- history --- */

/* Forget ch's oldest message (the channel is not freed here). */
static void drop_oldest(ws_hubstore_t *st, ws_hubchan_t *ch)
{
    ws_hubmsg_rec_t *m = ch->oldest;

    if (!m) {
        return;
    }
    ch->oldest = m->next;
    if (ch->oldest) {
        ch->oldest->prev = NULL;
    }
    else {
        ch->newest = NULL;
    }
    ch->kept--;
    if (m->id > ch->complete_after) {
        ch->complete_after = m->id;
    }
    if (m->gprev) {
        m->gprev->gnext = m->gnext;
    }
    else {
        st->oldest = m->gnext;
    }
    if (m->gnext) {
        m->gnext->gprev = m->gprev;
    }
    else {
        st->newest = m->gprev;
    }
    st->messages--;
    st->bytes -= sizeof(*m) + m->len;
    free(m);
}

static void trim_channel(ws_hubstore_t *st, ws_hubchan_t *ch, uint64_t now)
{
    while (ch->kept > ch->keep_count) {
        drop_oldest(st, ch);
    }
    while (ch->oldest && ch->oldest->time + ch->keep_age < now) {
        drop_oldest(st, ch);
    }
}

uint64_t ws_hubstore_publish(ws_hubstore_t *st, ws_hubchan_t *ch,
                             uint32_t msgtype, const uint8_t *data,
                             size_t len, uint64_t conn, uint32_t count,
                             uint64_t age, uint64_t now)
{
    uint64_t id = now > st->last_id ? now : st->last_id + 1;
    ws_hubmsg_rec_t *m;

    st->last_id = id;
    ch->last_id = id;
    ch->keep_count = count;
    ch->keep_age = age;
    if (count == 0 || age == 0 || sizeof(*m) + len > st->memory
        || !(m = malloc(sizeof(*m) + len))) {
        /* Not kept: a resume from before it has a gap. */
        ch->complete_after = id;
        trim_channel(st, ch, now);
        return id;
    }
    memset(m, 0, sizeof(*m));
    m->chan = ch;
    m->id = id;
    m->time = now;
    m->conn = conn;
    m->msgtype = msgtype;
    m->len = len;
    if (len) {
        memcpy(m->data, data, len);
    }
    m->data[len] = '\0';
    m->prev = ch->newest;
    if (ch->newest) {
        ch->newest->next = m;
    }
    else {
        ch->oldest = m;
    }
    ch->newest = m;
    ch->kept++;
    m->gprev = st->newest;
    if (st->newest) {
        st->newest->gnext = m;
    }
    else {
        st->oldest = m;
    }
    st->newest = m;
    st->messages++;
    st->bytes += sizeof(*m) + len;
    trim_channel(st, ch, now);
    /* The store's limit: the oldest messages of any channel go. */
    while (st->bytes > st->memory && st->oldest) {
        ws_hubchan_t *victim = st->oldest->chan;

        drop_oldest(st, victim);
        st->evicted++;
        if (victim != ch) {
            chan_gc(st, victim);
        }
    }
    return id;
}

const ws_hubmsg_rec_t *ws_hubstore_replay(ws_hubstore_t *st,
                                          ws_hubchan_t *ch, uint64_t since,
                                          uint32_t last, uint64_t now,
                                          int *gap)
{
    ws_hubmsg_rec_t *m;
    uint32_t n;

    trim_channel(st, ch, now);
    *gap = 0;
    if (since) {
        *gap = since < ch->complete_after;
        for (m = ch->oldest; m && m->id <= since; m = m->next) {
        }
        return m;
    }
    if (last == 0) {
        return NULL;
    }
    for (m = ch->newest, n = 1; m && m->prev && n < last; m = m->prev) {
        n++;
    }
    return m;
}

void ws_hubstore_expire(ws_hubstore_t *st, uint64_t now)
{
    size_t i;

    for (i = 0; i < st->chans.size; i++) {
        ws_hubchan_t *c = st->chans.slots[i], *next;

        for (; c; c = next) {
            next = c->hnext;
            trim_channel(st, c, now);
            chan_gc(st, c);
        }
    }
}

/* --- the store --- */

ws_hubstore_t *ws_hubstore_create(uint64_t start, size_t memory)
{
    ws_hubstore_t *st = calloc(1, sizeof(*st));

    if (!st || table_init(&st->chans) != 0 || table_init(&st->subs) != 0) {
        if (st) {
            free(st->chans.slots);
        }
        free(st);
        return NULL;
    }
    st->memory = memory;
    st->last_id = start;
    return st;
}

void ws_hubstore_set_memory(ws_hubstore_t *st, size_t memory)
{
    st->memory = memory;
}

void ws_hubstore_destroy(ws_hubstore_t *st)
{
    size_t i;

    if (!st) {
        return;
    }
    for (i = 0; i < st->subs.size; i++) {
        ws_hubsub_t *s = st->subs.slots[i], *next;

        for (; s; s = next) {
            next = s->hnext;
            free(s->label);
            free(s);
        }
    }
    for (i = 0; i < st->chans.size; i++) {
        ws_hubchan_t *c = st->chans.slots[i], *next;

        for (; c; c = next) {
            ws_hubmsg_rec_t *m, *mn;

            next = c->hnext;
            for (m = c->oldest; m; m = mn) {
                mn = m->next;
                free(m);
            }
            free(c->routes);
            free(c->key);
            free(c);
        }
    }
    free(st->subs.slots);
    free(st->chans.slots);
    free(st->targets);
    free(st);
}

void ws_hubstore_figures(const ws_hubstore_t *st, size_t *channels,
                         size_t *messages, size_t *bytes, uint64_t *evicted)
{
    *channels = st->chans.n;
    *messages = st->messages;
    *bytes = st->bytes;
    *evicted = st->evicted;
}
