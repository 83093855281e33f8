/*
 * test_hubproto.c -- unit tests for ws_hubproto.c: every message type
 * survives encoding and decoding; frames split anywhere wait for more;
 * bad lengths and types are refused; SUBACK's lists read back.
 */
#include <stdlib.h>
#include <string.h>
#include <check.h>

#include "unit.h"
#include "ws_hubproto.h"

static ws_hubmsg_t full(int type)
{
    ws_hubmsg_t m;

    memset(&m, 0, sizeof(m));
    m.type = type;
    m.version = 1; m.child = 2; m.pid = 3; m.flags = 4; m.event = 5;
    m.msgtype = 1; m.gap = 1; m.count = 7; m.last = 8; m.subscribers = 9;
    m.nmembers = 10; m.memory = 11; m.conn = 12; m.exclude = 13;
    m.token = 14; m.id = 15; m.time = 16; m.since = 17; m.age = 18;
    m.key = (const uint8_t *)"ns\0chan"; m.key_len = 7;
    m.label = (const uint8_t *)"alice"; m.label_len = 5;
    m.data = (const uint8_t *)"payload"; m.data_len = 7;
    m.history = (const uint8_t *)"hh"; m.history_len = 2;
    m.members = (const uint8_t *)"mmm"; m.members_len = 3;
    return m;
}

START_TEST(every_type_round_trips_its_fields)
{
    int type;

    for (type = 1; type < WS_HUB_NTYPES; type++) {
        ws_hubmsg_t in = full(type), out;
        ws_hubbuf_t b;
        long n;

        ws_hubbuf_init(&b);
        ck_assert_int_eq(ws_hubmsg_encode(&b, &in), 0);
        n = ws_hubmsg_decode(b.data, b.len, &out);
        ck_assert_int_eq(n, (long)b.len);
        ck_assert_int_eq(out.type, type);
        /* A field the type carries comes back; the others are 0. */
        ck_assert(out.conn == 0 || out.conn == 12);
        ck_assert(out.key_len == 0
                  || (out.key_len == 7 && !memcmp(out.key, "ns\0chan", 7)));
        ck_assert(out.data_len == 0
                  || (out.data_len == 7 && !memcmp(out.data, "payload", 7)));
        ws_hubbuf_free(&b);
    }
}
END_TEST

START_TEST(a_publish_keeps_every_field)
{
    ws_hubmsg_t in = full(WS_HUB_PUB), out;
    ws_hubbuf_t b;

    ws_hubbuf_init(&b);
    ck_assert_int_eq(ws_hubmsg_encode(&b, &in), 0);
    ck_assert_int_gt(ws_hubmsg_decode(b.data, b.len, &out), 0);
    ck_assert_uint_eq(out.token, 14);
    ck_assert_uint_eq(out.conn, 12);
    ck_assert_uint_eq(out.exclude, 13);
    ck_assert_uint_eq(out.msgtype, 1);
    ck_assert_uint_eq(out.count, 7);
    ck_assert_uint_eq(out.age, 18);
    ck_assert_uint_eq(out.since, 0);       /* not a PUB field */
    ws_hubbuf_free(&b);
}
END_TEST

START_TEST(frames_split_anywhere_wait_for_the_rest)
{
    ws_hubmsg_t a = full(WS_HUB_DELIVER), b2 = full(WS_HUB_SUB), out;
    ws_hubbuf_t b;
    size_t cut;

    ws_hubbuf_init(&b);
    ws_hubmsg_encode(&b, &a);
    ws_hubmsg_encode(&b, &b2);
    for (cut = 0; cut < b.len; cut++) {
        long n = ws_hubmsg_decode(b.data, cut, &out);

        REQUIRE(n == 0 || (n > 0 && (size_t)n <= cut), "cut %zu: %ld", cut,
                n);
    }
    ck_assert_int_gt(ws_hubmsg_decode(b.data, b.len, &out), 0);
    ck_assert_int_eq(out.type, WS_HUB_DELIVER);
    ws_hubbuf_free(&b);
}
END_TEST

START_TEST(bad_frames_are_refused)
{
    uint8_t buf[64];
    uint32_t len;
    ws_hubmsg_t m;

    /* Length 0, a length past the limit, an unknown type, a field past
     * the end, bytes left over. */
    len = 0;
    memcpy(buf, &len, 4);
    ck_assert_int_eq(ws_hubmsg_decode(buf, 8, &m), -1);
    len = WS_HUB_MAX_FRAME + 1;
    memcpy(buf, &len, 4);
    ck_assert_int_eq(ws_hubmsg_decode(buf, 8, &m), -1);
    len = 1;
    memcpy(buf, &len, 4);
    buf[4] = 99;
    ck_assert_int_eq(ws_hubmsg_decode(buf, 5, &m), -1);
    buf[4] = WS_HUB_UNSUB;          /* conn (8) + key (4 + n) wanted */
    len = 1 + 8;
    memcpy(buf, &len, 4);
    memset(buf + 5, 0, 8);
    ck_assert_int_eq(ws_hubmsg_decode(buf, 13, &m), -1);
    len = 1 + 8 + 4 + 2;            /* key of 0 bytes, 2 extra */
    memcpy(buf, &len, 4);
    memset(buf + 5, 0, 14);
    ck_assert_int_eq(ws_hubmsg_decode(buf, 4 + len, &m), -1);
    /* A byte string longer than its frame. */
    len = 1 + 8 + 4;
    memcpy(buf, &len, 4);
    memset(buf + 5, 0, 12);
    buf[13] = 200;
    ck_assert_int_eq(ws_hubmsg_decode(buf, 4 + len, &m), -1);
}
END_TEST

START_TEST(an_unknown_type_is_not_encoded)
{
    ws_hubmsg_t m = full(0);
    ws_hubbuf_t b;

    ws_hubbuf_init(&b);
    ck_assert_int_eq(ws_hubmsg_encode(&b, &m), -1);
    m.type = WS_HUB_NTYPES;
    ck_assert_int_eq(ws_hubmsg_encode(&b, &m), -1);
    ck_assert_uint_eq(b.len, 0);
    ws_hubbuf_free(&b);
}
END_TEST

START_TEST(suback_lists_read_back)
{
    ws_hubbuf_t h, mem;
    ws_hubhist_t rec, got;
    ws_hubmember_t mrec, mgot;
    size_t pos = 0;
    int i;

    ws_hubbuf_init(&h);
    ws_hubbuf_init(&mem);
    for (i = 0; i < 3; i++) {
        rec.id = 100 + (uint64_t)i;
        rec.time = 5;
        rec.msgtype = 2;
        rec.conn = 9;
        rec.data = (const uint8_t *)"abc";
        rec.data_len = (size_t)i;
        ck_assert_int_eq(ws_hubhist_add(&h, &rec), 0);
    }
    for (i = 0; i < 3; i++) {
        ck_assert_int_eq(ws_hubhist_next(h.data, h.len, &pos, &got), 1);
        ck_assert_uint_eq(got.id, 100 + (uint64_t)i);
        ck_assert_uint_eq(got.data_len, (size_t)i);
        ck_assert_uint_eq(got.msgtype, 2);
    }
    ck_assert_int_eq(ws_hubhist_next(h.data, h.len, &pos, &got), 0);
    /* A truncated list is malformed. */
    pos = 0;
    ck_assert_int_eq(ws_hubhist_next(h.data, 10, &pos, &got), -1);

    mrec.conn = 77;
    mrec.label = (const uint8_t *)"bob";
    mrec.label_len = 3;
    ck_assert_int_eq(ws_hubmember_add(&mem, &mrec), 0);
    pos = 0;
    ck_assert_int_eq(ws_hubmember_next(mem.data, mem.len, &pos, &mgot), 1);
    ck_assert_uint_eq(mgot.conn, 77);
    ck_assert_int_eq(memcmp(mgot.label, "bob", 3), 0);
    ck_assert_int_eq(ws_hubmember_next(mem.data, mem.len, &pos, &mgot), 0);
    ws_hubbuf_free(&h);
    ws_hubbuf_free(&mem);
}
END_TEST

Suite *ws_hubproto_suite(void)
{
    Suite *s = suite_create("ws_hubproto");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, every_type_round_trips_its_fields);
    tcase_add_test(tc, a_publish_keeps_every_field);
    tcase_add_test(tc, frames_split_anywhere_wait_for_the_rest);
    tcase_add_test(tc, bad_frames_are_refused);
    tcase_add_test(tc, an_unknown_type_is_not_encoded);
    tcase_add_test(tc, suback_lists_read_back);
    suite_add_tcase(s, tc);
    return s;
}
