"""The demo site (`make start`'s configuration and pages): every link on
the landing page answers 200, each demo page loads what it needs from the
same port, and the browser module is served as JavaScript.  (Their
behaviour in a real browser: the front-end issue's Chromium tests.)"""
import re
import urllib.parse

import wsutil
from conftest import stop_server


def test_every_link_of_the_landing_page_answers_200(httpd_factory):
    srv = httpd_factory("demo-pages", "", demo=True)
    try:
        r = wsutil.http_get(srv.port, "/")
        assert r.status == 200
        page = r.body.decode()
        links = set(re.findall(r'href="([^"#]+)"', page))
        assert {"echo.html", "chat.html", "ticker.html", "/server-status",
                "ws-client.js", "style.css", "favicon.svg"} <= links
        for href in sorted(links):
            path = href if href.startswith("/") else "/" + href
            got = wsutil.http_get(srv.port, path)
            assert got.status == 200, (href, got.status)
        assert {"examples/react/", "examples/vue/", "/websocket-status",
                "/websocket-status?json"} <= links
        # Each page's own assets answer too: links, scripts, module
        # imports and import-map targets (React, ReactDOM, htm and Vue
        # from npm, under /vendor/), relative to the page.
        for page in ("/echo.html", "/chat.html", "/ticker.html",
                     "/examples/react/", "/examples/vue/",
                     "/examples/react/useWebSocket.js",
                     "/examples/vue/useWebSocket.js"):
            body = wsutil.http_get(srv.port, page).body.decode()
            refs = re.findall(r'(?:href|src|from) ?=? ?"([^"#:]+)"', body)
            refs += re.findall(r'"[\w/-]+": "([^"]+)"', body)
            # Bare module names ("react") are the import map's to resolve.
            refs = [r for r in refs
                    if r.startswith((".", "/")) or re.match(r"[\w-]+\.\w+$", r)]
            assert refs, page
            for ref in refs:
                path = urllib.parse.urljoin(page, ref)
                got = wsutil.http_get(srv.port, path)
                assert got.status == 200, (page, ref, got.status)
        js = wsutil.http_get(srv.port, "/ws-client.js")
        assert "javascript" in js.header("Content-Type")
        assert b"export class WSClient" in js.body
        vue = wsutil.http_get(srv.port, "/vendor/vue.esm-browser.prod.js")
        assert "javascript" in vue.header("Content-Type")
    finally:
        stop_server(srv)
