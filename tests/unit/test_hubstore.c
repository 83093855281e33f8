/*
 * test_hubstore.c -- unit tests for ws_hubstore.c: ids increase; history
 * is bounded by count, age and the store's memory, and says where it is
 * complete; replays since an id and of the last n; subscriptions, routes
 * and presence; a target's subscriptions end together; empty channels go.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <check.h>

#include "unit.h"
#include "ws_hubstore.h"

#define START 1000000ULL
#define SEC 1000000ULL
#define KEY(s) (const uint8_t *)(s), sizeof(s) - 1

static uint64_t pub(ws_hubstore_t *st, ws_hubchan_t *ch, const char *text,
                    uint32_t count, uint64_t age, uint64_t now)
{
    return ws_hubstore_publish(st, ch, 1, (const uint8_t *)text,
                               strlen(text), 0, count, age, now);
}

START_TEST(ids_increase_even_within_one_microsecond)
{
    ws_hubstore_t *st = ws_hubstore_create(START, 1 << 20);
    ws_hubchan_t *a = ws_hubstore_channel(st, KEY("n\0a"), 1);
    ws_hubchan_t *b = ws_hubstore_channel(st, KEY("n\0b"), 1);
    uint64_t i1 = pub(st, a, "1", 10, SEC, START + 5);
    uint64_t i2 = pub(st, b, "2", 10, SEC, START + 5);
    uint64_t i3 = pub(st, a, "3", 10, SEC, START + 4);   /* clock back */

    ck_assert_uint_eq(i1, START + 5);
    ck_assert_uint_gt(i2, i1);
    ck_assert_uint_gt(i3, i2);
    ck_assert_uint_eq(ws_hubchan_last_id(a), i3);
    ws_hubstore_destroy(st);
}
END_TEST

START_TEST(history_keeps_the_last_count)
{
    ws_hubstore_t *st = ws_hubstore_create(START, 1 << 20);
    ws_hubchan_t *ch = ws_hubstore_channel(st, KEY("n\0c"), 1);
    const ws_hubmsg_rec_t *m;
    uint64_t ids[10];
    int i, gap;

    for (i = 0; i < 10; i++) {
        ids[i] = pub(st, ch, "x", 3, 60 * SEC, START + 10 + (uint64_t)i);
    }
    ck_assert_uint_eq(ws_hubchan_kept(ch), 3);
    ck_assert_uint_eq(ws_hubchan_oldest_id(ch), ids[7]);
    /* Since the 8th: the last two, complete. */
    m = ws_hubstore_replay(st, ch, ids[7], 0, START + 20, &gap);
    ck_assert_int_eq(gap, 0);
    ck_assert_uint_eq(m->id, ids[8]);
    ck_assert_uint_eq(m->next->id, ids[9]);
    ck_assert_ptr_null(m->next->next);
    /* Since the 2nd: some are gone. */
    m = ws_hubstore_replay(st, ch, ids[1], 0, START + 20, &gap);
    ck_assert_int_eq(gap, 1);
    ck_assert_uint_eq(m->id, ids[7]);
    /* Since the newest: nothing, complete. */
    ck_assert_ptr_null(ws_hubstore_replay(st, ch, ids[9], 0, START + 20,
                                          &gap));
    ck_assert_int_eq(gap, 0);
    /* The last 2, and more than there are. */
    m = ws_hubstore_replay(st, ch, 0, 2, START + 20, &gap);
    ck_assert_uint_eq(m->id, ids[8]);
    m = ws_hubstore_replay(st, ch, 0, 50, START + 20, &gap);
    ck_assert_uint_eq(m->id, ids[7]);
    ck_assert_ptr_null(ws_hubstore_replay(st, ch, 0, 0, START + 20, &gap));
    ws_hubstore_destroy(st);
}
END_TEST

START_TEST(history_ages_out)
{
    ws_hubstore_t *st = ws_hubstore_create(START, 1 << 20);
    ws_hubchan_t *ch = ws_hubstore_channel(st, KEY("n\0c"), 1);
    uint64_t old = pub(st, ch, "old", 100, 10 * SEC, START + SEC);
    uint64_t young = pub(st, ch, "young", 100, 10 * SEC, START + 8 * SEC);
    const ws_hubmsg_rec_t *m;
    int gap;

    m = ws_hubstore_replay(st, ch, 0, 10, START + 12 * SEC, &gap);
    ck_assert_uint_eq(m->id, young);
    ck_assert_ptr_null(m->next);
    m = ws_hubstore_replay(st, ch, old - 1, 0, START + 12 * SEC, &gap);
    ck_assert_int_eq(gap, 1);
    /* expire() frees a channel that only history kept. */
    ws_hubstore_expire(st, START + 30 * SEC);
    ck_assert_ptr_null(ws_hubstore_channel(st, KEY("n\0c"), 0));
    ws_hubstore_destroy(st);
}
END_TEST

START_TEST(the_store_memory_limit_evicts_the_oldest_anywhere)
{
    ws_hubstore_t *st = ws_hubstore_create(START, 4096);
    ws_hubchan_t *a = ws_hubstore_channel(st, KEY("n\0a"), 1);
    ws_hubchan_t *b;
    char big[1000];
    size_t chans, msgs, bytes;
    uint64_t evicted;
    int i;

    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    pub(st, a, big, 100, 60 * SEC, START + 1);
    b = ws_hubstore_channel(st, KEY("n\0b"), 1);
    for (i = 0; i < 10; i++) {
        pub(st, b, big, 100, 60 * SEC, START + 2 + (uint64_t)i);
    }
    ws_hubstore_figures(st, &chans, &msgs, &bytes, &evicted);
    ck_assert_uint_le(bytes, 4096);
    ck_assert_uint_gt(evicted, 0);
    /* a lost its only message (and, without subscribers, itself). */
    ck_assert_ptr_null(ws_hubstore_channel(st, KEY("n\0a"), 0));
    ck_assert_uint_eq(chans, 1);
    /* A message larger than the whole store is not kept, and says gap. */
    {
        char *huge = malloc(8192);
        int gap;
        uint64_t before = ws_hubchan_last_id(b), id;

        memset(huge, 'y', 8191);
        huge[8191] = '\0';
        id = pub(st, b, huge, 100, 60 * SEC, START + 100);
        ck_assert_uint_gt(id, before);
        ws_hubstore_replay(st, b, before, 0, START + 101, &gap);
        ck_assert_int_eq(gap, 1);
        free(huge);
    }
    ws_hubstore_destroy(st);
}
END_TEST

START_TEST(a_new_channel_is_complete_only_after_its_birth)
{
    ws_hubstore_t *st = ws_hubstore_create(START, 1 << 20);
    ws_hubchan_t *other = ws_hubstore_channel(st, KEY("n\0o"), 1);
    uint64_t early = pub(st, other, "e", 10, SEC, START + 10);
    ws_hubchan_t *ch = ws_hubstore_channel(st, KEY("n\0new"), 1);
    uint64_t id = pub(st, ch, "m", 10, 60 * SEC, START + 20);
    int gap;

    /* An id from before the channel existed here: maybe missed. */
    ws_hubstore_replay(st, ch, early - 1, 0, START + 21, &gap);
    ck_assert_int_eq(gap, 1);
    ws_hubstore_replay(st, ch, early, 0, START + 21, &gap);
    ck_assert_int_eq(gap, 0);
    ck_assert_uint_gt(id, early);
    ws_hubstore_destroy(st);
}
END_TEST

START_TEST(subscriptions_routes_and_presence)
{
    ws_hubstore_t *st = ws_hubstore_create(START, 1 << 20);
    ws_hubchan_t *ch = ws_hubstore_channel(st, KEY("n\0room"), 1);
    const ws_hubroute_t *r;
    const ws_hubsub_t *p;
    ws_hubsub_t *s1, *s2, *s3;
    size_t n;
    int exists;

    s1 = ws_hubstore_subscribe(st, ch, 1, 0, 1, (const uint8_t *)"ann", 3,
                               &exists);
    s2 = ws_hubstore_subscribe(st, ch, 2, 0, 0, NULL, 0, &exists);
    s3 = ws_hubstore_subscribe(st, ch, 3, 5, 1, (const uint8_t *)"bo", 2,
                               &exists);
    ck_assert_ptr_nonnull(s1);
    ck_assert_ptr_nonnull(s2);
    ck_assert_ptr_nonnull(s3);
    ck_assert_ptr_null(ws_hubstore_subscribe(st, ch, 2, 0, 0, NULL, 0,
                                             &exists));
    ck_assert_int_eq(exists, 1);
    ck_assert_uint_eq(ws_hubchan_subscribers(ch), 3);
    ck_assert_uint_eq(ws_hubchan_members(ch), 2);
    r = ws_hubchan_routes(ch, &n);
    ck_assert_uint_eq(n, 2);
    ck_assert_uint_eq(r[0].target == 0 ? r[0].count : r[1].count, 2);
    p = ws_hubchan_presence(ch);
    ck_assert_str_eq((const char *)p->label, "bo");     /* newest first */
    ck_assert_str_eq((const char *)p->pnext->label, "ann");
    ck_assert_ptr_eq(ws_hubstore_find(st, ch, 2), s2);
    ws_hubstore_unsubscribe(st, s1);
    ck_assert_uint_eq(ws_hubchan_members(ch), 1);
    ck_assert_ptr_null(ws_hubstore_find(st, ch, 1));
    /* Target 0's last one goes: its route too. */
    ws_hubstore_unsubscribe(st, s2);
    r = ws_hubchan_routes(ch, &n);
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_eq(r[0].target, 5);
    /* The last subscriber of a channel without history frees it. */
    ws_hubstore_unsubscribe(st, s3);
    ck_assert_ptr_null(ws_hubstore_channel(st, KEY("n\0room"), 0));
    ws_hubstore_destroy(st);
}
END_TEST

START_TEST(a_targets_subscriptions_end_together)
{
    ws_hubstore_t *st = ws_hubstore_create(START, 1 << 20);
    ws_hubsub_t *s;
    int i, exists, left = 0;
    char key[16];

    for (i = 0; i < 300; i++) {
        int n = snprintf(key, sizeof(key), "n%c%d", 0, i % 30);
        ws_hubchan_t *ch = ws_hubstore_channel(st, (const uint8_t *)key,
                                               (size_t)n, 1);

        ck_assert_ptr_nonnull(ws_hubstore_subscribe(st, ch, (uint64_t)i + 1,
                                                    (uint32_t)(i % 3), 0,
                                                    NULL, 0, &exists));
    }
    while ((s = ws_hubstore_target_first(st, 1))) {
        ws_hubstore_unsubscribe(st, s);
        left++;
    }
    ck_assert_int_eq(left, 100);
    ck_assert_ptr_null(ws_hubstore_target_first(st, 1));
    ck_assert_ptr_nonnull(ws_hubstore_target_first(st, 2));
    ck_assert_ptr_null(ws_hubstore_target_first(st, 77));
    ws_hubstore_destroy(st);
}
END_TEST

Suite *ws_hubstore_suite(void)
{
    Suite *s = suite_create("ws_hubstore");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, ids_increase_even_within_one_microsecond);
    tcase_add_test(tc, history_keeps_the_last_count);
    tcase_add_test(tc, history_ages_out);
    tcase_add_test(tc, the_store_memory_limit_evicts_the_oldest_anywhere);
    tcase_add_test(tc, a_new_channel_is_complete_only_after_its_birth);
    tcase_add_test(tc, subscriptions_routes_and_presence);
    tcase_add_test(tc, a_targets_subscriptions_end_together);
    suite_add_tcase(s, tc);
    return s;
}
