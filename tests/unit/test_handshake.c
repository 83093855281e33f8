/*
 * test_handshake.c -- unit tests for ws_handshake.c (RFC 6455 section 4).
 */
#include <string.h>
#include <check.h>

#include "ws_handshake.h"

static ws_handshake_req_t good(void)
{
    ws_handshake_req_t r;

    memset(&r, 0, sizeof(r));
    r.method = "GET";
    r.proto_num = 1001;
    r.host = "server.example.com";
    r.upgrade = "websocket";
    r.connection = "Upgrade";
    r.key = "dGhlIHNhbXBsZSBub25jZQ==";
    r.version = "13";
    return r;
}

START_TEST(accept_matches_rfc_sample)
{
    char out[WS_ACCEPT_LEN + 1];

    /* Section 1.3's worked example. */
    ws_handshake_accept("dGhlIHNhbXBsZSBub25jZQ==", out);
    ck_assert_str_eq(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}
END_TEST

START_TEST(valid_request_is_accepted)
{
    ws_handshake_req_t r = good();

    ck_assert_int_eq(ws_handshake_check(&r, NULL), WS_HS_OK);
}
END_TEST

typedef struct {
    const char *name;
    void (*mutate)(ws_handshake_req_t *r);
    ws_hs_result_e want;
    int status;
} hs_case_t;

static void no_upgrade(ws_handshake_req_t *r) { r->upgrade = NULL; }
static void upgrade_h2c(ws_handshake_req_t *r) { r->upgrade = "h2c"; }
static void post(ws_handshake_req_t *r) { r->method = "POST"; }
static void http10(ws_handshake_req_t *r) { r->proto_num = 1000; }
static void no_host(ws_handshake_req_t *r) { r->host = NULL; }
static void conn_keepalive(ws_handshake_req_t *r)
{
    r->connection = "keep-alive";
}
static void no_version(ws_handshake_req_t *r) { r->version = NULL; }
static void version8(ws_handshake_req_t *r) { r->version = "8"; }
static void version_list(ws_handshake_req_t *r) { r->version = "13, 13"; }
static void version_256(ws_handshake_req_t *r) { r->version = "256"; }
static void version_013(ws_handshake_req_t *r) { r->version = "013"; }
static void version_255(ws_handshake_req_t *r) { r->version = "255"; }
static void version_0(ws_handshake_req_t *r) { r->version = "0"; }
static void no_key(ws_handshake_req_t *r) { r->key = NULL; }
static void short_key(ws_handshake_req_t *r)
{
    r->key = "dGhlIHNhbXBsZSBub25jZQ="; /* 23 chars */
}
static void key_15_bytes(ws_handshake_req_t *r)
{
    r->key = "MTIzNDU2Nzg5MDEyMzQ1"; /* base64 of 15 bytes */
}
static void key_not_b64(ws_handshake_req_t *r)
{
    r->key = "dGhlIHNhbXBsZSBub25j!Q==";
}
static void bad_protocols(ws_handshake_req_t *r)
{
    r->protocols = "chat, v/2";
}
static void body_length(ws_handshake_req_t *r) { r->content_length = "5"; }
static void body_chunked(ws_handshake_req_t *r)
{
    r->transfer_encoding = "chunked";
}
static void body_length_spaced(ws_handshake_req_t *r)
{
    r->content_length = " 10 ";
}
static void proto_with_space(ws_handshake_req_t *r)
{
    r->protocols = "chat room";
}

static const hs_case_t hs_cases[] = {
    { "no Upgrade", no_upgrade, WS_HS_NOT_WEBSOCKET, 0 },
    { "Upgrade h2c", upgrade_h2c, WS_HS_NOT_WEBSOCKET, 0 },
    { "POST", post, WS_HS_BAD_METHOD, 405 },
    { "HTTP/1.0", http10, WS_HS_BAD_REQUEST, 400 },
    { "no Host", no_host, WS_HS_BAD_REQUEST, 400 },
    { "Connection keep-alive", conn_keepalive, WS_HS_BAD_REQUEST, 400 },
    { "no version", no_version, WS_HS_BAD_REQUEST, 400 },
    { "version 8", version8, WS_HS_BAD_VERSION, 426 },
    { "version 255", version_255, WS_HS_BAD_VERSION, 426 },
    { "version 0", version_0, WS_HS_BAD_VERSION, 426 },
    { "version list (repeated header)", version_list, WS_HS_BAD_REQUEST,
      400 },
    { "version 256", version_256, WS_HS_BAD_REQUEST, 400 },
    { "version 013", version_013, WS_HS_BAD_REQUEST, 400 },
    { "no key", no_key, WS_HS_BAD_REQUEST, 400 },
    { "short key", short_key, WS_HS_BAD_REQUEST, 400 },
    { "15-byte key", key_15_bytes, WS_HS_BAD_REQUEST, 400 },
    { "non-base64 key", key_not_b64, WS_HS_BAD_REQUEST, 400 },
    { "protocol with a slash", bad_protocols, WS_HS_BAD_REQUEST, 400 },
    { "Content-Length 5", body_length, WS_HS_BAD_REQUEST, 400 },
    { "Content-Length ' 10 '", body_length_spaced, WS_HS_BAD_REQUEST, 400 },
    { "Transfer-Encoding chunked", body_chunked, WS_HS_BAD_REQUEST, 400 },
    { "protocol with space", proto_with_space, WS_HS_BAD_REQUEST, 400 },
};

START_TEST(each_fault_gets_its_status)
{
    const hs_case_t *tc = &hs_cases[_i];
    ws_handshake_req_t r = good();
    const char *why = NULL;
    ws_hs_result_e res;

    tc->mutate(&r);
    res = ws_handshake_check(&r, &why);
    ck_assert_msg(res == tc->want, "%s: got %d want %d", tc->name, res,
                  tc->want);
    ck_assert_int_eq(ws_handshake_status(res), tc->status);
    ck_assert_ptr_nonnull(why);
}
END_TEST

START_TEST(tokens_are_case_insensitive_in_lists)
{
    ck_assert(ws_handshake_has_token("keep-alive, Upgrade", "upgrade"));
    ck_assert(ws_handshake_has_token("WebSocket", "websocket"));
    ck_assert(ws_handshake_has_token(" foo ,\tUPGRADE\t", "upgrade"));
    ck_assert(!ws_handshake_has_token("upgraded", "upgrade"));
    ck_assert(!ws_handshake_has_token("", "upgrade"));
    ck_assert(!ws_handshake_has_token(NULL, "upgrade"));
}
END_TEST

START_TEST(list_elements_are_walked_without_copies_or_limits)
{
    char longer[1200];
    const char *list = " chat ,v2,,  superchat , ", *elem;
    size_t len;

    ck_assert_int_eq(ws_handshake_next_element(&list, &elem, &len), 1);
    ck_assert_int_eq((int)len, 4);
    ck_assert(!strncmp(elem, "chat", len));
    ck_assert_int_eq(ws_handshake_next_element(&list, &elem, &len), 1);
    ck_assert(len == 2 && !strncmp(elem, "v2", len));
    /* RFC 9110 section 5.6.1: empty elements are not elements. */
    ck_assert_int_eq(ws_handshake_next_element(&list, &elem, &len), 1);
    ck_assert(len == 9 && !strncmp(elem, "superchat", len));
    ck_assert_int_eq(ws_handshake_next_element(&list, &elem, &len), 0);

    list = ", ,\t,";
    ck_assert_int_eq(ws_handshake_next_element(&list, &elem, &len), 0);

    /* A token of any length: bearer tokens travel this way. */
    memset(longer, 'a', sizeof(longer) - 1);
    longer[sizeof(longer) - 1] = '\0';
    list = longer;
    ck_assert_int_eq(ws_handshake_next_element(&list, &elem, &len), 1);
    ck_assert_uint_eq(len, sizeof(longer) - 1);
    ck_assert(ws_handshake_token_list_valid(longer));
}
END_TEST

START_TEST(token_lists_ignore_empty_elements_and_refuse_non_tokens)
{
    ck_assert(ws_handshake_token_list_valid("chat, , v2"));
    ck_assert(ws_handshake_token_list_valid(", chat"));
    ck_assert(ws_handshake_token_list_valid(""));
    ck_assert(ws_handshake_token_list_valid("base64url.bearer.x, a"));
    ck_assert(!ws_handshake_token_list_valid("chat room"));
    ck_assert(!ws_handshake_token_list_valid("a, b\"c\""));
    ck_assert(ws_handshake_has_token(", , Upgrade", "upgrade"));
    ck_assert(ws_handshake_has_token("websocket,", "websocket"));
}
END_TEST

START_TEST(upgrade_with_an_empty_body_is_valid)
{
    ws_handshake_req_t r = good();

    r.content_length = "0";
    ck_assert_int_eq(ws_handshake_check(&r, NULL), WS_HS_OK);
    r.protocols = "chat, , v2";
    ck_assert_int_eq(ws_handshake_check(&r, NULL), WS_HS_OK);
}
END_TEST

START_TEST(key_validity)
{
    ck_assert(ws_handshake_key_valid("dGhlIHNhbXBsZSBub25jZQ=="));
    ck_assert(ws_handshake_key_valid("AAAAAAAAAAAAAAAAAAAAAA=="));
    ck_assert(!ws_handshake_key_valid("AAAAAAAAAAAAAAAAAAAAAAA="));
    ck_assert(!ws_handshake_key_valid("AAAAAAAAAAAAAAAAAAAAAAAA"));
    ck_assert(!ws_handshake_key_valid(""));
    ck_assert(!ws_handshake_key_valid(NULL));
}
END_TEST

START_TEST(same_origin_compares_scheme_host_and_port)
{
    ck_assert(ws_handshake_origin_same("http://example.com", "http",
                                       "example.com"));
    ck_assert(ws_handshake_origin_same("http://EXAMPLE.com:80", "http",
                                       "example.com"));
    ck_assert(ws_handshake_origin_same("https://example.com", "https",
                                       "example.com:443"));
    ck_assert(ws_handshake_origin_same("http://localhost:8080", "http",
                                       "localhost:8080"));
    ck_assert(ws_handshake_origin_same("http://[::1]:8080", "http",
                                       "[::1]:8080"));
    ck_assert(!ws_handshake_origin_same("http://localhost:8081", "http",
                                        "localhost:8080"));
    ck_assert(!ws_handshake_origin_same("https://example.com", "http",
                                        "example.com"));
    ck_assert(!ws_handshake_origin_same("http://evil.com", "http",
                                        "example.com"));
    ck_assert(!ws_handshake_origin_same("null", "http", "example.com"));
    ck_assert(!ws_handshake_origin_same("http://example.com/path", "http",
                                        "example.com"));
    ck_assert(!ws_handshake_origin_same("http://example.com:99999", "http",
                                        "example.com:99999"));
}
END_TEST

START_TEST(origin_allow_list_matches)
{
    ck_assert(ws_handshake_origin_match("https://app.example.com",
                                        "https://app.example.com:443"));
    ck_assert(ws_handshake_origin_match("http://anything", "*"));
    ck_assert(!ws_handshake_origin_match("https://app.example.com",
                                         "http://app.example.com"));
    ck_assert(!ws_handshake_origin_match(NULL, "https://a.example"));
}
END_TEST

START_TEST(origin_syntax_is_what_matching_can_parse)
{
    ck_assert(ws_handshake_origin_valid("*"));
    ck_assert(ws_handshake_origin_valid("https://app.example.com"));
    ck_assert(ws_handshake_origin_valid("http://host:8080"));
    ck_assert(ws_handshake_origin_valid("http://[::1]:8080"));
    ck_assert(!ws_handshake_origin_valid("http://host:abc"));
    ck_assert(!ws_handshake_origin_valid("http://host:"));
    ck_assert(!ws_handshake_origin_valid("http://host:70000"));
    ck_assert(!ws_handshake_origin_valid("http://host/path"));
    ck_assert(!ws_handshake_origin_valid("host.example"));
    ck_assert(!ws_handshake_origin_valid("http://[::1"));
}
END_TEST

Suite *ws_handshake_suite(void)
{
    Suite *s = suite_create("ws_handshake");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, accept_matches_rfc_sample);
    tcase_add_test(tc, valid_request_is_accepted);
    tcase_add_loop_test(tc, each_fault_gets_its_status, 0,
                        (int)(sizeof(hs_cases) / sizeof(hs_cases[0])));
    tcase_add_test(tc, tokens_are_case_insensitive_in_lists);
    tcase_add_test(tc, list_elements_are_walked_without_copies_or_limits);
    tcase_add_test(tc, token_lists_ignore_empty_elements_and_refuse_non_tokens);
    tcase_add_test(tc, upgrade_with_an_empty_body_is_valid);
    tcase_add_test(tc, key_validity);
    tcase_add_test(tc, same_origin_compares_scheme_host_and_port);
    tcase_add_test(tc, origin_allow_list_matches);
    tcase_add_test(tc, origin_syntax_is_what_matching_can_parse);
    suite_add_tcase(s, tc);
    return s;
}
