/*
 * test_snapshot.c -- unit tests for ws_snapshot.c: what handlers may read
 * of the upgrade request, copied into one block that outlives the
 * request's pool.
 */
#include <string.h>
#include <check.h>

#include "apr_general.h"
#include "apr_pools.h"
#include "apr_strings.h"
#include "apr_tables.h"

#include "ws_snapshot.h"

static apr_pool_t *pool;

static void setup(void)
{
    apr_initialize();
    apr_pool_create(&pool, NULL);
}

static void teardown(void)
{
    apr_pool_destroy(pool);
    apr_terminate();
}

static ws_snapshot_t *make(apr_table_t *headers, apr_table_t *options)
{
    ws_snapshot_src_t src;

    memset(&src, 0, sizeof(src));
    src.path = "/chat/room";
    src.query = "a=1&b=2";
    src.user = "alice";
    src.remote_addr = "192.0.2.7";
    src.headers = headers;
    src.options = options;
    return ws_snapshot_create(&src, pool);
}

START_TEST(strings_are_copied_and_outlive_the_request)
{
    apr_pool_t *req;
    apr_table_t *h;
    ws_snapshot_t *snap;
    ws_snapshot_src_t src;

    apr_pool_create(&req, pool);
    h = apr_table_make(req, 4);
    apr_table_set(h, "X-Test", "value");
    memset(&src, 0, sizeof(src));
    src.path = apr_pstrdup(req, "/p");
    src.query = apr_pstrdup(req, "q=1");
    src.remote_addr = apr_pstrdup(req, "::1");
    src.headers = h;
    snap = ws_snapshot_create(&src, req);
    apr_pool_destroy(req);     /* the request ends */
    ck_assert_str_eq(ws_snapshot_path(snap), "/p");
    ck_assert_str_eq(ws_snapshot_query(snap), "q=1");
    ck_assert_str_eq(ws_snapshot_remote_addr(snap), "::1");
    ck_assert_ptr_null(ws_snapshot_user(snap));
    ck_assert_str_eq(ws_snapshot_header(snap, "x-test"), "value");
    ws_snapshot_free(snap);
}
END_TEST

START_TEST(headers_are_found_by_case_insensitive_name)
{
    apr_table_t *h = apr_table_make(pool, 4);
    ws_snapshot_t *snap;

    apr_table_set(h, "Sec-WebSocket-Version", "13");
    apr_table_set(h, "X-Forwarded-For", "203.0.113.1, 10.0.0.1");
    snap = make(h, NULL);
    ck_assert_str_eq(ws_snapshot_header(snap, "sec-websocket-version"),
                     "13");
    ck_assert_str_eq(ws_snapshot_header(snap, "X-FORWARDED-FOR"),
                     "203.0.113.1, 10.0.0.1");
    ck_assert_ptr_null(ws_snapshot_header(snap, "X-Absent"));
    ck_assert_ptr_null(ws_snapshot_header(snap, NULL));
    ck_assert_str_eq(ws_snapshot_user(snap), "alice");
    ws_snapshot_free(snap);
}
END_TEST

START_TEST(headers_are_listed_in_order_for_the_access_log)
{
    apr_table_t *h = apr_table_make(pool, 4);
    ws_snapshot_t *snap;
    const char *value = NULL;

    apr_table_set(h, "Host", "example.com");
    apr_table_set(h, "User-Agent", "test/1");
    snap = make(h, NULL);
    ck_assert_int_eq(ws_snapshot_nheaders(snap), 2);
    ck_assert_str_eq(ws_snapshot_header_at(snap, 0, &value), "Host");
    ck_assert_str_eq(value, "example.com");
    ck_assert_str_eq(ws_snapshot_header_at(snap, 1, &value), "User-Agent");
    ck_assert_str_eq(value, "test/1");
    ck_assert_ptr_null(ws_snapshot_header_at(snap, 2, &value));
    ck_assert_ptr_null(ws_snapshot_header_at(snap, -1, &value));
    ws_snapshot_free(snap);
}
END_TEST

START_TEST(cookies_are_parsed_as_rfc_6265_says)
{
    apr_table_t *h = apr_table_make(pool, 4);
    ws_snapshot_t *snap;

    apr_table_set(h, "Cookie", " sid=abc123;theme=\"dark mode\" ; "
                  "empty=; sid=second; =noname; novalue");
    snap = make(h, NULL);
    ck_assert_str_eq(ws_snapshot_cookie(snap, "sid"), "abc123");
    ck_assert_str_eq(ws_snapshot_cookie(snap, "theme"), "dark mode");
    ck_assert_str_eq(ws_snapshot_cookie(snap, "empty"), "");
    /* Cookie names are case-sensitive. */
    ck_assert_ptr_null(ws_snapshot_cookie(snap, "SID"));
    ck_assert_ptr_null(ws_snapshot_cookie(snap, "novalue"));
    ck_assert_ptr_null(ws_snapshot_cookie(snap, ""));
    ws_snapshot_free(snap);
}
END_TEST

START_TEST(no_cookie_header_means_no_cookies)
{
    ws_snapshot_t *snap = make(apr_table_make(pool, 1), NULL);

    ck_assert_ptr_null(ws_snapshot_cookie(snap, "sid"));
    ws_snapshot_free(snap);
}
END_TEST

START_TEST(options_and_offers_are_kept)
{
    apr_table_t *h = apr_table_make(pool, 4);
    apr_table_t *o = apr_table_make(pool, 4);
    ws_snapshot_t *snap;

    apr_table_set(o, "greeting", "hello there");
    apr_table_set(h, "Sec-WebSocket-Protocol", " chat, , v2.json ,");
    snap = make(h, o);
    ck_assert_str_eq(ws_snapshot_option(snap, "Greeting"), "hello there");
    ck_assert_ptr_null(ws_snapshot_option(snap, "colour"));
    ck_assert_int_eq(ws_snapshot_noffers(snap), 2);
    ck_assert_str_eq(ws_snapshot_offer(snap, 0), "chat");
    ck_assert_str_eq(ws_snapshot_offer(snap, 1), "v2.json");
    ck_assert_ptr_null(ws_snapshot_offer(snap, 2));
    ck_assert_ptr_null(ws_snapshot_offer(snap, -1));
    ws_snapshot_free(snap);
}
END_TEST

START_TEST(size_is_one_block_of_what_it_holds)
{
    apr_table_t *h = apr_table_make(pool, 4);
    ws_snapshot_t *small, *big;
    char longval[4000];

    small = make(h, NULL);
    memset(longval, 'v', sizeof(longval) - 1);
    longval[sizeof(longval) - 1] = '\0';
    apr_table_set(h, "X-Big", longval);
    big = make(h, NULL);
    ck_assert_uint_gt(ws_snapshot_size(small), 0);
    ck_assert_uint_ge(ws_snapshot_size(big),
                      ws_snapshot_size(small) + sizeof(longval));
    ck_assert_uint_lt(ws_snapshot_size(big),
                      ws_snapshot_size(small) + sizeof(longval) + 256);
    ws_snapshot_free(small);
    ws_snapshot_free(big);
}
END_TEST

Suite *ws_snapshot_suite(void)
{
    Suite *s = suite_create("ws_snapshot");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, strings_are_copied_and_outlive_the_request);
    tcase_add_test(tc, headers_are_found_by_case_insensitive_name);
    tcase_add_test(tc, headers_are_listed_in_order_for_the_access_log);
    tcase_add_test(tc, cookies_are_parsed_as_rfc_6265_says);
    tcase_add_test(tc, no_cookie_header_means_no_cookies);
    tcase_add_test(tc, options_and_offers_are_kept);
    tcase_add_test(tc, size_is_one_block_of_what_it_holds);
    suite_add_tcase(s, tc);
    return s;
}
