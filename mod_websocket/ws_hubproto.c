/*
 * ws_hubproto.c -- the children <-> hub messages (see ws_hubproto.h).
 *
 * One table says which fields each type carries, in order; encoding and
 * decoding walk it, so the two cannot disagree.
 */
#include <stdlib.h>
#include <string.h>

#include "ws_hubproto.h"

/* Fields. */
enum {
    F_END = 0,
    F_VERSION, F_CHILD, F_PID, F_FLAGS, F_EVENT, F_MSGTYPE, F_GAP, F_COUNT,
    F_LAST, F_SUBSCRIBERS, F_NMEMBERS,                       /* 32-bit */
    F_MEMORY, F_CONN, F_EXCLUDE, F_TOKEN, F_ID, F_TIME, F_SINCE,
    F_AGE,                                                   /* 64-bit */
    F_KEY, F_LABEL, F_DATA, F_HISTORY, F_MEMBERS             /* bytes */
};

#define FIELDS_MAX 12

static const unsigned char layout[WS_HUB_NTYPES][FIELDS_MAX] = {
    [WS_HUB_HELLO] = { F_VERSION, F_CHILD, F_PID, F_MEMORY },
    [WS_HUB_SUB] = { F_TOKEN, F_CONN, F_KEY, F_FLAGS, F_LABEL, F_SINCE,
                     F_LAST },
    [WS_HUB_UNSUB] = { F_CONN, F_KEY },
    [WS_HUB_PUB] = { F_TOKEN, F_CONN, F_EXCLUDE, F_KEY, F_MSGTYPE, F_COUNT,
                     F_AGE, F_DATA },
    [WS_HUB_SENDTO] = { F_CONN, F_MSGTYPE, F_DATA },
    [WS_HUB_INFO] = { F_TOKEN, F_KEY },
    [WS_HUB_WELCOME] = { F_VERSION, F_TIME },
    [WS_HUB_SUBACK] = { F_TOKEN, F_CONN, F_KEY, F_ID, F_GAP, F_SUBSCRIBERS,
                        F_COUNT, F_HISTORY, F_NMEMBERS, F_MEMBERS },
    [WS_HUB_DELIVER] = { F_EVENT, F_KEY, F_ID, F_TIME, F_MSGTYPE, F_CONN,
                         F_EXCLUDE, F_SUBSCRIBERS, F_DATA },
    [WS_HUB_PUBACK] = { F_TOKEN, F_ID, F_SUBSCRIBERS },
    [WS_HUB_DIRECT] = { F_CONN, F_MSGTYPE, F_DATA },
    [WS_HUB_INFOACK] = { F_TOKEN, F_ID, F_SUBSCRIBERS, F_COUNT, F_NMEMBERS,
                         F_SINCE },
};

static uint32_t *u32_field(ws_hubmsg_t *m, int f)
{
    switch (f) {
    case F_VERSION: return &m->version;
    case F_CHILD: return &m->child;
    case F_PID: return &m->pid;
    case F_FLAGS: return &m->flags;
    case F_EVENT: return &m->event;
    case F_MSGTYPE: return &m->msgtype;
    case F_GAP: return &m->gap;
    case F_COUNT: return &m->count;
    case F_LAST: return &m->last;
    case F_SUBSCRIBERS: return &m->subscribers;
    case F_NMEMBERS: return &m->nmembers;
    default: return NULL;
    }
}

static uint64_t *u64_field(ws_hubmsg_t *m, int f)
{
    switch (f) {
    case F_MEMORY: return &m->memory;
    case F_CONN: return &m->conn;
    case F_EXCLUDE: return &m->exclude;
    case F_TOKEN: return &m->token;
    case F_ID: return &m->id;
    case F_TIME: return &m->time;
    case F_SINCE: return &m->since;
    case F_AGE: return &m->age;
    default: return NULL;
    }
}

/* A bytes field: its pointer and length members. */
static int bytes_field(ws_hubmsg_t *m, int f, const uint8_t ***p,
                       size_t **len)
{
    switch (f) {
    case F_KEY: *p = &m->key; *len = &m->key_len; return 1;
    case F_LABEL: *p = &m->label; *len = &m->label_len; return 1;
    case F_DATA: *p = &m->data; *len = &m->data_len; return 1;
    case F_HISTORY: *p = &m->history; *len = &m->history_len; return 1;
    case F_MEMBERS: *p = &m->members; *len = &m->members_len; return 1;
    default: return 0;
    }
}

/* --- output --- */

void ws_hubbuf_init(ws_hubbuf_t *b)
{
    b->data = NULL;
    b->len = b->cap = 0;
}

void ws_hubbuf_free(ws_hubbuf_t *b)
{
    free(b->data);
    ws_hubbuf_init(b);
}

static int reserve(ws_hubbuf_t *b, size_t more)
{
    size_t cap = b->cap ? b->cap : 256;
    uint8_t *d;

    if (b->len + more <= b->cap) {
        return 0;
    }
    while (cap < b->len + more) {
        cap *= 2;
    }
    if (!(d = realloc(b->data, cap))) {
        return -1;
    }
    b->data = d;
    b->cap = cap;
    return 0;
}

static void put(ws_hubbuf_t *b, const void *p, size_t n)
{
    if (n) {
        memcpy(b->data + b->len, p, n);
    }
    b->len += n;
}

static void put_bytes(ws_hubbuf_t *b, const uint8_t *p, size_t n)
{
    uint32_t l = (uint32_t)n;

    put(b, &l, sizeof(l));
    put(b, p, n);
}

int ws_hubmsg_encode(ws_hubbuf_t *b, const ws_hubmsg_t *cm)
{
    ws_hubmsg_t *m = (ws_hubmsg_t *)cm;      /* the accessors are shared */
    const unsigned char *f;
    const uint8_t **bp;
    size_t *bl, size = 1;
    uint32_t flen;
    uint8_t type = (uint8_t)m->type;

    if (m->type <= 0 || m->type >= WS_HUB_NTYPES) {
        return -1;
    }
    for (f = layout[m->type]; f < layout[m->type] + FIELDS_MAX && *f; f++) {
        if (u32_field(m, *f)) {
            size += 4;
        }
        else if (u64_field(m, *f)) {
            size += 8;
        }
        else if (bytes_field(m, *f, &bp, &bl)) {
            if (*bl > WS_HUB_MAX_FRAME) {
                return -1;
            }
            size += 4 + *bl;
        }
    }
    if (size > WS_HUB_MAX_FRAME || reserve(b, 4 + size) != 0) {
        return -1;
    }
    flen = (uint32_t)size;
    put(b, &flen, sizeof(flen));
    put(b, &type, 1);
    for (f = layout[m->type]; f < layout[m->type] + FIELDS_MAX && *f; f++) {
        uint32_t *p32 = u32_field(m, *f);
        uint64_t *p64 = u64_field(m, *f);

        if (p32) {
            put(b, p32, 4);
        }
        else if (p64) {
            put(b, p64, 8);
        }
        else if (bytes_field(m, *f, &bp, &bl)) {
            put_bytes(b, *bp, *bl);
        }
    }
    return 0;
}

/* --- input --- */

typedef struct {
    const uint8_t *p;
    size_t left;
    int bad;
} reader_t;

static void get(reader_t *r, void *out, size_t n)
{
    if (r->bad || r->left < n) {
        r->bad = 1;
        memset(out, 0, n);
        return;
    }
    memcpy(out, r->p, n);
    r->p += n;
    r->left -= n;
}

static void get_bytes(reader_t *r, const uint8_t **p, size_t *n)
{
    uint32_t l = 0;

    get(r, &l, sizeof(l));
    if (r->bad || r->left < l) {
        r->bad = 1;
        *p = NULL;
        *n = 0;
        return;
    }
    *p = r->p;
    *n = l;
    r->p += l;
    r->left -= l;
}

long ws_hubmsg_decode(const uint8_t *buf, size_t len, ws_hubmsg_t *m)
{
    reader_t r;
    uint32_t flen;
    uint8_t type;
    const unsigned char *f;
    const uint8_t **bp;
    size_t *bl;

    if (len < 4) {
        return 0;
    }
    memcpy(&flen, buf, 4);
    if (flen < 1 || flen > WS_HUB_MAX_FRAME) {
        return -1;
    }
    if (len - 4 < flen) {
        return 0;
    }
    memset(m, 0, sizeof(*m));
    r.p = buf + 4;
    r.left = flen;
    r.bad = 0;
    get(&r, &type, 1);
    if (type == 0 || type >= WS_HUB_NTYPES) {
        return -1;
    }
    m->type = type;
    for (f = layout[type]; f < layout[type] + FIELDS_MAX && *f; f++) {
        uint32_t *p32 = u32_field(m, *f);
        uint64_t *p64 = u64_field(m, *f);

        if (p32) {
            get(&r, p32, 4);
        }
        else if (p64) {
            get(&r, p64, 8);
        }
        else if (bytes_field(m, *f, &bp, &bl)) {
            get_bytes(&r, bp, bl);
        }
    }
    if (r.bad || r.left != 0) {
        return -1;
    }
    return (long)(4 + flen);
}

/* --- SUBACK's lists --- */

int ws_hubhist_add(ws_hubbuf_t *b, const ws_hubhist_t *rec)
{
    if (reserve(b, 8 + 8 + 4 + 8 + 4 + rec->data_len) != 0) {
        return -1;
    }
    put(b, &rec->id, 8);
    put(b, &rec->time, 8);
    put(b, &rec->msgtype, 4);
    put(b, &rec->conn, 8);
    put_bytes(b, rec->data, rec->data_len);
    return 0;
}

int ws_hubhist_next(const uint8_t *list, size_t len, size_t *pos,
                    ws_hubhist_t *rec)
{
    reader_t r;

    if (*pos >= len) {
        return 0;
    }
    r.p = list + *pos;
    r.left = len - *pos;
    r.bad = 0;
    get(&r, &rec->id, 8);
    get(&r, &rec->time, 8);
    get(&r, &rec->msgtype, 4);
    get(&r, &rec->conn, 8);
    get_bytes(&r, &rec->data, &rec->data_len);
    if (r.bad) {
        return -1;
    }
    *pos = len - r.left;
    return 1;
}

int ws_hubmember_add(ws_hubbuf_t *b, const ws_hubmember_t *rec)
{
    if (reserve(b, 8 + 4 + rec->label_len) != 0) {
        return -1;
    }
    put(b, &rec->conn, 8);
    put_bytes(b, rec->label, rec->label_len);
    return 0;
}

int ws_hubmember_next(const uint8_t *list, size_t len, size_t *pos,
                      ws_hubmember_t *rec)
{
    reader_t r;

    if (*pos >= len) {
        return 0;
    }
    r.p = list + *pos;
    r.left = len - *pos;
    r.bad = 0;
    get(&r, &rec->conn, 8);
    get_bytes(&r, &rec->label, &rec->label_len);
    if (r.bad) {
        return -1;
    }
    *pos = len - r.left;
    return 1;
}
