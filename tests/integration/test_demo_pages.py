"""The demo site (`make start`'s configuration and pages): every link on
the landing page answers 200, each demo page loads what it needs from the
same port, and the browser module is served as JavaScript.  (Their
behaviour in a real browser: the front-end issue's Chromium tests.)"""
import re

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
        # Each page's own assets answer too.
        for page in ("echo.html", "chat.html", "ticker.html"):
            body = wsutil.http_get(srv.port, "/" + page).body.decode()
            for ref in re.findall(r'(?:href|src|from) ?=? ?"(\./[^"]+|'
                                  r'[a-z-]+\.(?:css|js|svg))"', body):
                path = "/" + ref.lstrip("./")
                assert wsutil.http_get(srv.port, path).status == 200, \
                    (page, ref)
        js = wsutil.http_get(srv.port, "/ws-client.js")
        assert "javascript" in js.header("Content-Type")
        assert b"export class WSClient" in js.body
    finally:
        stop_server(srv)
