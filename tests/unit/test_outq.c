/*
 * test_outq.c -- unit tests for ws_outq.c: WebSocketMaxQueuedOutput and
 * WebSocketQueueOverflow -- what fits, what is dropped and counted, when
 * the connection is closed.
 */
#include <check.h>

#include "ws_outq.h"

START_TEST(messages_fit_until_the_limit)
{
    ws_outq_t q;
    int first;

    ws_outq_init(&q, 1000, 1);
    ck_assert_int_eq(ws_outq_admit(&q, 0, 600, &first), WS_OUTQ_OK);
    ws_outq_net_add(&q, 600);
    ck_assert_int_eq(ws_outq_admit(&q, 0, 400, &first), WS_OUTQ_OK);
    ck_assert_int_eq(ws_outq_admit(&q, 300, 100, &first), WS_OUTQ_OK);
    ck_assert_int_eq(first, 0);
    ck_assert_uint_eq(ws_outq_dropped(&q), 0);
}
END_TEST

START_TEST(a_message_always_fits_an_empty_queue)
{
    ws_outq_t q;
    int first;

    /* Bigger than the limit on its own: still sent, or no message of
     * that size could ever be. */
    ws_outq_init(&q, 100, 1);
    ck_assert_int_eq(ws_outq_admit(&q, 0, 5000, &first), WS_OUTQ_OK);
}
END_TEST

START_TEST(close_policy_closes_once_then_drops)
{
    ws_outq_t q;
    int first;

    ws_outq_init(&q, 100, 1);
    ws_outq_net_add(&q, 90);
    ck_assert_int_eq(ws_outq_admit(&q, 0, 20, &first), WS_OUTQ_DROP_CLOSE);
    ck_assert_int_eq(first, 1);
    ck_assert_int_eq(ws_outq_admit(&q, 0, 20, &first), WS_OUTQ_DROP);
    ck_assert_int_eq(first, 0);
    ck_assert_uint_eq(ws_outq_dropped(&q), 2);
}
END_TEST

START_TEST(drop_policy_only_drops_and_counts)
{
    ws_outq_t q;
    int first, i;

    ws_outq_init(&q, 100, 0);
    ws_outq_net_add(&q, 100);
    for (i = 0; i < 5; i++) {
        ck_assert_int_eq(ws_outq_admit(&q, 0, 1, &first), WS_OUTQ_DROP);
        ck_assert_int_eq(first, i == 0);
    }
    ck_assert_uint_eq(ws_outq_dropped(&q), 5);
}
END_TEST

START_TEST(mail_counts_against_the_limit_too)
{
    ws_outq_t q;
    int first;

    ws_outq_init(&q, 100, 0);
    ck_assert_int_eq(ws_outq_admit(&q, 95, 10, &first), WS_OUTQ_DROP);
    ck_assert_int_eq(ws_outq_admit(&q, 95, 5, &first), WS_OUTQ_OK);
}
END_TEST

START_TEST(written_output_makes_room_again)
{
    ws_outq_t q;
    int first;

    ws_outq_init(&q, 100, 0);
    ws_outq_net_add(&q, 100);
    ck_assert_int_eq(ws_outq_admit(&q, 0, 50, &first), WS_OUTQ_DROP);
    ws_outq_net_done(&q, 60);
    ck_assert_uint_eq(ws_outq_net(&q), 40);
    ck_assert_int_eq(ws_outq_admit(&q, 0, 50, &first), WS_OUTQ_OK);
}
END_TEST

START_TEST(a_length_near_size_max_does_not_wrap_around)
{
    ws_outq_t q;
    int first;

    ws_outq_init(&q, 100, 0);
    ws_outq_net_add(&q, 10);
    ck_assert_int_eq(ws_outq_admit(&q, 0, (size_t)-5, &first),
                     WS_OUTQ_DROP);
}
END_TEST

Suite *ws_outq_suite(void)
{
    Suite *s = suite_create("ws_outq");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, messages_fit_until_the_limit);
    tcase_add_test(tc, a_message_always_fits_an_empty_queue);
    tcase_add_test(tc, close_policy_closes_once_then_drops);
    tcase_add_test(tc, drop_policy_only_drops_and_counts);
    tcase_add_test(tc, mail_counts_against_the_limit_too);
    tcase_add_test(tc, written_output_makes_room_again);
    tcase_add_test(tc, a_length_near_size_max_does_not_wrap_around);
    suite_add_tcase(s, tc);
    return s;
}
