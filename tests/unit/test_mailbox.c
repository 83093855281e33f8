/*
 * test_mailbox.c -- unit tests for ws_mailbox.c: mail from other threads
 * is kept in order, counted in bytes, copied, and taken all at once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <check.h>

#include "ws_frame.h"
#include "ws_mailbox.h"

START_TEST(mail_comes_out_in_the_order_it_went_in)
{
    ws_mailbox_t mb;
    ws_mail_t *m, *next;
    char text[16];
    int i;
    size_t bytes;

    ws_mailbox_init(&mb);
    for (i = 0; i < 100; i++) {
        int n = snprintf(text, sizeof(text), "m%d", i);

        ck_assert_int_eq(ws_mailbox_post(&mb, WS_OP_TEXT, 0, text,
                                         (size_t)n), 0);
    }
    m = ws_mailbox_take(&mb, &bytes);
    ck_assert_uint_eq(bytes, 10 * 2 + 90 * 3);
    for (i = 0; m; m = next, i++) {
        snprintf(text, sizeof(text), "m%d", i);
        ck_assert_str_eq((const char *)m->data, text);
        ck_assert_uint_eq(m->len, strlen(text));
        next = m->next;
        ws_mail_free(m);
    }
    ck_assert_int_eq(i, 100);
}
END_TEST

START_TEST(taking_empties_the_mailbox)
{
    ws_mailbox_t mb;
    size_t bytes = 99;

    ws_mailbox_init(&mb);
    ck_assert_ptr_null(ws_mailbox_take(&mb, &bytes));
    ck_assert_uint_eq(bytes, 0);
    ws_mailbox_post(&mb, WS_OP_BINARY, 0, "abc", 3);
    ws_mail_free_all(ws_mailbox_take(&mb, NULL));
    ck_assert_ptr_null(mb.head);
    ck_assert_ptr_null(mb.tail);
    ck_assert_uint_eq(mb.bytes, 0);
    /* And it works again afterwards. */
    ws_mailbox_post(&mb, WS_OP_BINARY, 0, "de", 2);
    ck_assert_uint_eq(mb.bytes, 2);
    ws_mail_free_all(ws_mailbox_take(&mb, NULL));
}
END_TEST

START_TEST(mail_is_a_nul_terminated_copy)
{
    ws_mailbox_t mb;
    char buf[4] = { 'x', 'y', 'z', '!' };
    ws_mail_t *m;

    ws_mailbox_init(&mb);
    ws_mailbox_post(&mb, WS_OP_TEXT, 0, buf, 3);
    buf[0] = 'q';
    m = ws_mailbox_take(&mb, NULL);
    ck_assert_str_eq((const char *)m->data, "xyz");
    ws_mail_free_all(m);
}
END_TEST

START_TEST(a_close_request_carries_its_code_and_reason)
{
    ws_mailbox_t mb;
    ws_mail_t *m;

    ws_mailbox_init(&mb);
    ws_mailbox_post(&mb, WS_OP_TEXT, 0, "before", 6);
    ws_mailbox_post(&mb, WS_OP_CLOSE, 4001, "bye", 3);
    m = ws_mailbox_take(&mb, NULL);
    ck_assert_int_eq(m->opcode, WS_OP_TEXT);
    ck_assert_int_eq(m->next->opcode, WS_OP_CLOSE);
    ck_assert_int_eq(m->next->close_code, 4001);
    ck_assert_str_eq((const char *)m->next->data, "bye");
    ck_assert_ptr_null(m->next->next);
    ws_mail_free_all(m);
}
END_TEST

START_TEST(an_empty_message_is_mail_too)
{
    ws_mailbox_t mb;
    ws_mail_t *m;

    ws_mailbox_init(&mb);
    ck_assert_int_eq(ws_mailbox_post(&mb, WS_OP_BINARY, 0, NULL, 0), 0);
    m = ws_mailbox_take(&mb, NULL);
    ck_assert_ptr_nonnull(m);
    ck_assert_uint_eq(m->len, 0);
    ck_assert_int_eq(m->data[0], '\0');
    ws_mail_free_all(m);
}
END_TEST

static int calls, drops;

static void count_call(void *target, void *arg)
{
    (void)target;
    calls += *(int *)arg;
}

static void count_drop(void *arg)
{
    drops += *(int *)arg;
}

START_TEST(shared_payloads_are_referenced_not_copied)
{
    ws_mailbox_t a, b;
    ws_shared_t *sh = ws_shared_create("fan out", 7);
    ws_mail_t *ma, *mb;

    ws_mailbox_init(&a);
    ws_mailbox_init(&b);
    ck_assert_int_eq(ws_mailbox_post_shared(&a, WS_OP_TEXT, sh), 0);
    ck_assert_int_eq(ws_mailbox_post_shared(&b, WS_OP_TEXT, sh), 0);
    ck_assert_uint_eq(sh->refs, 3);
    ck_assert_uint_eq(a.bytes, 7);
    ws_shared_unref(sh);            /* the poster's */
    ma = ws_mailbox_take(&a, NULL);
    mb = ws_mailbox_take(&b, NULL);
    ck_assert_ptr_eq(WS_MAIL_DATA(ma), WS_MAIL_DATA(mb));
    ck_assert_str_eq((const char *)WS_MAIL_DATA(ma), "fan out");
    ws_mail_free_all(ma);
    ck_assert_uint_eq(sh->refs, 1);
    ws_mail_free_all(mb);           /* the last reference frees it */
}
END_TEST

START_TEST(calls_run_in_order_and_drop_always_follows)
{
    ws_mailbox_t mb;
    ws_mail_t *m, *next;
    int one = 1, ten = 10;

    calls = drops = 0;
    ws_mailbox_init(&mb);
    ws_mailbox_post(&mb, WS_OP_TEXT, 0, "before", 6);
    ck_assert_int_eq(ws_mailbox_post_call(&mb, count_call, count_drop, &one),
                     0);
    ws_mailbox_post(&mb, WS_OP_TEXT, 0, "after", 5);
    ck_assert_uint_eq(mb.bytes, 11);        /* a call counts no bytes */
    m = ws_mailbox_take(&mb, NULL);
    ck_assert_str_eq((const char *)m->data, "before");
    ck_assert_int_eq(m->next->opcode, WS_MAIL_CALL);
    m->next->call(NULL, m->next->arg);
    ck_assert_str_eq((const char *)m->next->next->data, "after");
    for (; m; m = next) {
        next = m->next;
        ws_mail_free(m);
    }
    ck_assert_int_eq(calls, 1);
    ck_assert_int_eq(drops, 1);
    /* Discarded unread: only drop runs. */
    ws_mailbox_post_call(&mb, count_call, count_drop, &ten);
    ws_mail_free_all(ws_mailbox_take(&mb, NULL));
    ck_assert_int_eq(calls, 1);
    ck_assert_int_eq(drops, 11);
}
END_TEST

Suite *ws_mailbox_suite(void)
{
    Suite *s = suite_create("ws_mailbox");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, mail_comes_out_in_the_order_it_went_in);
    tcase_add_test(tc, taking_empties_the_mailbox);
    tcase_add_test(tc, mail_is_a_nul_terminated_copy);
    tcase_add_test(tc, a_close_request_carries_its_code_and_reason);
    tcase_add_test(tc, an_empty_message_is_mail_too);
    tcase_add_test(tc, shared_payloads_are_referenced_not_copied);
    tcase_add_test(tc, calls_run_in_order_and_drop_always_follows);
    suite_add_tcase(s, tc);
    return s;
}
