/*
 * fuzz_hub.c -- libFuzzer harness for what the channel hub reads from the
 * children: frames (ws_hubproto.c) and the store they drive
 * (ws_hubstore.c).  Every frame the decoder accepts must encode back to
 * the same bytes, SUBACK-style lists must read without overrun, and any
 * sequence of subscribes, unsubscribes, publishes, replays, expiries and
 * children leaving must keep the store consistent (ASan/UBSan watch).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ws_hubproto.h"
#include "ws_hubstore.h"

static void lists(const ws_hubmsg_t *m)
{
    ws_hubhist_t h;
    ws_hubmember_t mem;
    size_t pos = 0;

    while (ws_hubhist_next(m->data, m->data_len, &pos, &h) == 1) {
    }
    pos = 0;
    while (ws_hubmember_next(m->label, m->label_len, &pos, &mem) == 1) {
    }
}

static void drive(ws_hubstore_t *st, const ws_hubmsg_t *m, uint64_t *now)
{
    ws_hubchan_t *ch;
    ws_hubsub_t *s;
    int exists, gap;

    *now += m->time % 5000000;
    switch (m->type) {
    case WS_HUB_SUB:
        if ((ch = ws_hubstore_channel(st, m->key, m->key_len, 1))) {
            const ws_hubmsg_rec_t *r;

            ws_hubstore_subscribe(st, ch, m->conn % 64, m->child % 8,
                                  m->flags & 1, m->label, m->label_len,
                                  &exists);
            for (r = ws_hubstore_replay(st, ch, m->since, m->last % 300,
                                        *now, &gap); r; r = r->next) {
            }
        }
        break;
    case WS_HUB_UNSUB:
        if ((ch = ws_hubstore_channel(st, m->key, m->key_len, 0))
            && (s = ws_hubstore_find(st, ch, m->conn % 64))) {
            ws_hubstore_unsubscribe(st, s);
        }
        break;
    case WS_HUB_PUB:
        if ((ch = ws_hubstore_channel(st, m->key, m->key_len, 1))) {
            ws_hubstore_publish(st, ch, m->msgtype, m->data, m->data_len,
                                m->conn, m->count % 200, m->age, *now);
        }
        break;
    case WS_HUB_HELLO:
        while ((s = ws_hubstore_target_first(st, m->child % 8))) {
            ws_hubstore_unsubscribe(st, s);
        }
        break;
    case WS_HUB_INFO:
        ws_hubstore_expire(st, *now);
        break;
    default:
        lists(m);
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ws_hubstore_t *st = ws_hubstore_create(1, 64 * 1024);
    uint64_t now = 1;
    size_t pos = 0;

    while (pos < size) {
        ws_hubmsg_t m, again;
        ws_hubbuf_t b;
        long n = ws_hubmsg_decode(data + pos, size - pos, &m);

        if (n <= 0) {
            break;
        }
        ws_hubbuf_init(&b);
        if (ws_hubmsg_encode(&b, &m) != 0 || b.len != (size_t)n
            || memcmp(b.data, data + pos, b.len) != 0
            || ws_hubmsg_decode(b.data, b.len, &again) != n) {
            abort();
        }
        ws_hubbuf_free(&b);
        drive(st, &m, &now);
        pos += (size_t)n;
    }
    ws_hubstore_destroy(st);
    return 0;
}
