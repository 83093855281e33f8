/*
 * testhandler_raw.c -- testhandler.c without on_subscribed and
 * on_channel_event: channel messages reach its connections byte for byte,
 * replays as they are (the server's defaults).
 *
 *     WebSocketLoadHandler test_raw build/test-handlers/testhandler_raw.so
 */
#define TEST_RAW 1
#include "testhandler.c"
