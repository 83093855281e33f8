/*
 * test_pmd.c -- permessage-deflate negotiation (RFC 7692 sections 5-7):
 * what each parameter gives, several offers, and every offer that must be
 * declined.
 */
#include <stdio.h>
#include <string.h>

#include "ws_pmd.h"
#include "unit.h"

static const ws_pmd_policy_t roomy = { 0, 0, 15, 15 };
static const ws_pmd_policy_t frugal = { 1, 0, 12, 10 };

START_TEST(a_plain_offer_is_taken_as_is)
{
    ws_pmd_params_t p;
    char resp[WS_PMD_RESPONSE_MAX];

    ck_assert_int_eq(ws_pmd_negotiate("permessage-deflate", &roomy, &p,
                                      resp), 1);
    ck_assert_str_eq(resp, "permessage-deflate");
    ck_assert_int_eq(p.server_no_context_takeover, 0);
    ck_assert_int_eq(p.client_no_context_takeover, 0);
    ck_assert_int_eq(p.server_max_window_bits, 15);
    ck_assert_int_eq(p.client_max_window_bits, 15);
}
END_TEST

START_TEST(what_browsers_send)
{
    ws_pmd_params_t p;
    char resp[WS_PMD_RESPONSE_MAX];

    /* Chromium and Firefox. */
    ck_assert_int_eq(ws_pmd_negotiate(
        "permessage-deflate; client_max_window_bits", &frugal, &p, resp), 1);
    ck_assert_str_eq(resp, "permessage-deflate; server_no_context_takeover; "
                           "server_max_window_bits=12; "
                           "client_max_window_bits=10");
    ck_assert_int_eq(p.server_max_window_bits, 12);
    ck_assert_int_eq(p.client_max_window_bits, 10);
    ck_assert_int_eq(p.server_no_context_takeover, 1);
    /* Without client_max_window_bits the client's window may not be
     * limited. */
    ck_assert_int_eq(ws_pmd_negotiate("permessage-deflate", &frugal, &p,
                                      resp), 1);
    ck_assert_int_eq(p.client_max_window_bits, 15);
    ck_assert_ptr_null(strstr(resp, "client_max_window_bits"));
}
END_TEST

START_TEST(each_parameter_is_honoured)
{
    ws_pmd_params_t p;
    char resp[WS_PMD_RESPONSE_MAX];

    ck_assert_int_eq(ws_pmd_negotiate(
        "permessage-deflate; server_no_context_takeover; "
        "client_no_context_takeover; server_max_window_bits=10; "
        "client_max_window_bits=9", &roomy, &p, resp), 1);
    ck_assert_str_eq(resp, "permessage-deflate; server_no_context_takeover; "
                           "client_no_context_takeover; "
                           "server_max_window_bits=10; "
                           "client_max_window_bits=9");
    ck_assert_int_eq(p.server_max_window_bits, 10);
    ck_assert_int_eq(p.client_max_window_bits, 9);
    /* A quoted value, upper case names, spaces. */
    ck_assert_int_eq(ws_pmd_negotiate(
        "  Permessage-Deflate ;Server_Max_Window_Bits = \"11\" ", &roomy, &p,
        resp), 1);
    ck_assert_int_eq(p.server_max_window_bits, 11);
    /* The client may be told 8 (its zlib makes 9: we inflate with 9). */
    ck_assert_int_eq(ws_pmd_negotiate(
        "permessage-deflate; client_max_window_bits=8", &roomy, &p, resp), 1);
    ck_assert_str_eq(resp, "permessage-deflate; client_max_window_bits=8");
    ck_assert_int_eq(p.client_max_window_bits, 9);
}
END_TEST

START_TEST(bad_offers_are_declined_and_the_next_is_taken)
{
    static const char *const bad[] = {
        "permessage-deflate; foo",
        "permessage-deflate; server_no_context_takeover; "
        "server_no_context_takeover",
        "permessage-deflate; server_no_context_takeover=1",
        "permessage-deflate; server_max_window_bits",
        "permessage-deflate; server_max_window_bits=16",
        "permessage-deflate; server_max_window_bits=7",
        "permessage-deflate; server_max_window_bits=010",
        "permessage-deflate; server_max_window_bits=8",
        "permessage-deflate; client_max_window_bits=0",
        "permessage-deflate; client_max_window_bits=16",
        "permessage-deflate; client_max_window_bits; client_max_window_bits",
        "permessage-deflate; client_no_context_takeover=x",
        "permessage-deflate; =1",
        "x-webkit-deflate-frame",
        "",
    };
    ws_pmd_params_t p;
    char resp[WS_PMD_RESPONSE_MAX];
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char both[256];

        ck_assert_msg(ws_pmd_negotiate(bad[i], &roomy, &p, resp) == 0,
                      "accepted: %s", bad[i]);
        ck_assert_str_eq(resp, "");
        /* The next offer is taken. */
        snprintf(both, sizeof(both), "%s, permessage-deflate; "
                 "client_no_context_takeover", bad[i]);
        ck_assert_msg(ws_pmd_negotiate(both, &roomy, &p, resp) == 1,
                      "declined the second offer after: %s", bad[i]);
        ck_assert_str_eq(resp,
                         "permessage-deflate; client_no_context_takeover");
    }
    ck_assert_int_eq(ws_pmd_negotiate(NULL, &roomy, &p, resp), 0);
    /* An unterminated quoted string runs to the end: nothing after it. */
    ck_assert_int_eq(ws_pmd_negotiate(
        "permessage-deflate; server_max_window_bits=\"10, "
        "permessage-deflate", &roomy, &p, resp), 0);
}
END_TEST

START_TEST(the_first_acceptable_offer_wins)
{
    ws_pmd_params_t p;
    char resp[WS_PMD_RESPONSE_MAX];

    ck_assert_int_eq(ws_pmd_negotiate(
        "foo; bar=\"a,b\", permessage-deflate; server_max_window_bits=12, "
        "permessage-deflate", &roomy, &p, resp), 1);
    ck_assert_str_eq(resp, "permessage-deflate; server_max_window_bits=12");
    ck_assert_int_eq(p.server_max_window_bits, 12);
    /* The policy's window is the most: an offer above it gets ours. */
    ck_assert_int_eq(ws_pmd_negotiate(
        "permessage-deflate; server_max_window_bits=14", &frugal, &p, resp),
        1);
    ck_assert_int_eq(p.server_max_window_bits, 12);
}
END_TEST

Suite *ws_pmd_suite(void)
{
    Suite *s = suite_create("ws_pmd");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, a_plain_offer_is_taken_as_is);
    tcase_add_test(tc, what_browsers_send);
    tcase_add_test(tc, each_parameter_is_honoured);
    tcase_add_test(tc, bad_offers_are_declined_and_the_next_is_taken);
    tcase_add_test(tc, the_first_acceptable_offer_wins);
    suite_add_tcase(s, tc);
    return s;
}
