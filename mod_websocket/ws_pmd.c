/*
 * ws_pmd.c -- permessage-deflate negotiation (see ws_pmd.h).
 *
 * Grammar (RFC 6455 section 9.1, RFC 9110 lists):
 *   extension-list = 1#( token *( OWS ";" OWS param ) )
 *   param          = token [ OWS "=" OWS ( token / quoted-string ) ]
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "ws_pmd.h"

typedef struct {
    const char *p;
} scan_t;

static int is_tchar(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
           || (c >= '0' && c <= '9') || (c && strchr("!#$%&'*+-.^_`|~", c));
}

static void ows(scan_t *s)
{
    while (*s->p == ' ' || *s->p == '\t') {
        s->p++;
    }
}

/* A token into buf (cut at cap - 1: then it is no name we know). */
static int token(scan_t *s, char *buf, size_t cap)
{
    size_t n = 0;

    if (!is_tchar(*s->p)) {
        return -1;
    }
    while (is_tchar(*s->p)) {
        if (n + 1 < cap) {
            buf[n++] = *s->p;
        }
        s->p++;
    }
    buf[n] = '\0';
    return 0;
}

/* A token or a quoted-string (unescaped) into buf. */
static int value(scan_t *s, char *buf, size_t cap)
{
    size_t n = 0;

    if (*s->p != '"') {
        return token(s, buf, cap);
    }
    s->p++;
    while (*s->p && *s->p != '"') {
        char c = *s->p++;

        if (c == '\\') {
            if (!*s->p) {
                return -1;
            }
            c = *s->p++;
        }
        if (n + 1 < cap) {
            buf[n++] = c;
        }
    }
    if (*s->p != '"') {
        return -1;
    }
    s->p++;
    buf[n] = '\0';
    return 0;
}

/* Skip the rest of a malformed element: to the next comma outside a
 * quoted string, or the end. */
static void skip_element(scan_t *s)
{
    int quoted = 0;

    while (*s->p && (quoted || *s->p != ',')) {
        if (*s->p == '\\' && quoted && s->p[1]) {
            s->p++;
        }
        else if (*s->p == '"') {
            quoted = !quoted;
        }
        s->p++;
    }
}

/* RFC 7692 section 7.1.2: a decimal 8-15 without leading zeros. */
static int window_bits(const char *v)
{
    if (!v[0] || (v[1] && v[0] == '0') || strlen(v) > 2) {
        return -1;
    }
    if (v[1] == '\0') {
        return v[0] == '8' ? 8 : v[0] == '9' ? 9 : -1;
    }
    if (v[0] == '1' && v[1] >= '0' && v[1] <= '5') {
        return 10 + (v[1] - '0');
    }
    return -1;
}

/* What one permessage-deflate offer asks. */
typedef struct {
    int snct, cnct;             /* seen */
    int smwb;                   /* 0: absent; else 8-15 */
    int cmwb_present;
    int cmwb;                   /* 0: no value */
} offer_t;

/*
 * Parse one element's parameters (after its name).  Returns 1 if it is a
 * valid permessage-deflate offer (is_pmd), 0 if it is to be declined, -1
 * on a syntax error (the element is skipped).
 */
static int params(scan_t *s, int is_pmd, offer_t *o)
{
    int ok = 1;

    memset(o, 0, sizeof(*o));
    for (;;) {
        char name[40], val[40];
        int has_val = 0;

        ows(s);
        if (*s->p == ',' || !*s->p) {
            return ok;
        }
        if (*s->p != ';') {
            return -1;
        }
        s->p++;
        ows(s);
        if (token(s, name, sizeof(name)) != 0) {
            return -1;
        }
        ows(s);
        if (*s->p == '=') {
            s->p++;
            ows(s);
            if (value(s, val, sizeof(val)) != 0) {
                return -1;
            }
            has_val = 1;
        }
        if (!is_pmd) {
            continue;
        }
        if (!strcasecmp(name, "server_no_context_takeover")) {
            ok = ok && !o->snct && !has_val;
            o->snct = 1;
        }
        else if (!strcasecmp(name, "client_no_context_takeover")) {
            ok = ok && !o->cnct && !has_val;
            o->cnct = 1;
        }
        else if (!strcasecmp(name, "server_max_window_bits")) {
            int b = has_val ? window_bits(val) : -1;

            ok = ok && !o->smwb && b > 0;
            o->smwb = b > 0 ? b : 15;
        }
        else if (!strcasecmp(name, "client_max_window_bits")) {
            int b = has_val ? window_bits(val) : 0;

            ok = ok && !o->cmwb_present && b >= 0;
            o->cmwb_present = 1;
            o->cmwb = b > 0 ? b : 0;
        }
        else {
            ok = 0;             /* section 7: an unknown parameter */
        }
    }
}

static int clamp_bits(int b)
{
    return b < 9 ? 9 : b > 15 ? 15 : b;
}

int ws_pmd_negotiate(const char *header, const ws_pmd_policy_t *policy,
                     ws_pmd_params_t *out, char *response)
{
    scan_t s;

    response[0] = '\0';
    if (!header) {
        return 0;
    }
    s.p = header;
    while (*s.p) {
        char name[40];
        offer_t o;
        int r, is_pmd;

        ows(&s);
        if (*s.p == ',') {
            s.p++;              /* an empty list element */
            continue;
        }
        if (!*s.p) {
            break;
        }
        if (token(&s, name, sizeof(name)) != 0) {
            skip_element(&s);
            continue;
        }
        is_pmd = !strcasecmp(name, "permessage-deflate");
        r = params(&s, is_pmd, &o);
        if (r < 0) {
            skip_element(&s);
            continue;
        }
        if (*s.p == ',') {
            s.p++;
        }
        if (!is_pmd || r == 0) {
            continue;
        }
        /* A server window of 8: zlib's deflate uses 9 (zlib 1.2.9 on). */
        if (o.smwb == 8) {
            continue;
        }
        {
            int smwb = clamp_bits(policy->server_max_window_bits);
            int cmwb = 15;
            size_t n;

            if (o.smwb && o.smwb < smwb) {
                smwb = o.smwb;
            }
            if (o.cmwb_present) {
                cmwb = clamp_bits(policy->client_max_window_bits);
                if (o.cmwb && o.cmwb < cmwb) {
                    cmwb = o.cmwb;  /* may be 8: the client's zlib uses 9 */
                }
            }
            out->server_no_context_takeover =
                o.snct || policy->server_no_context_takeover;
            out->client_no_context_takeover =
                o.cnct || policy->client_no_context_takeover;
            out->server_max_window_bits = smwb;
            out->client_max_window_bits = clamp_bits(cmwb);
            n = (size_t)snprintf(
                response, WS_PMD_RESPONSE_MAX, "permessage-deflate%s%s",
                out->server_no_context_takeover
                ? "; server_no_context_takeover" : "",
                out->client_no_context_takeover
                ? "; client_no_context_takeover" : "");
            if (o.smwb || smwb < 15) {
                n += (size_t)snprintf(response + n, WS_PMD_RESPONSE_MAX - n,
                                      "; server_max_window_bits=%d", smwb);
            }
            if (o.cmwb_present && cmwb < 15) {
                snprintf(response + n, WS_PMD_RESPONSE_MAX - n,
                         "; client_max_window_bits=%d", cmwb);
            }
        }
        return 1;
    }
    return 0;
}
