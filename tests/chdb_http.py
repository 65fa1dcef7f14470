#!/usr/bin/env python3
"""ClickHouse's HTTP query interface, served from an in-process current ClickHouse (PyPI's `chdb`).

Used by the tests (tests/common/clickhouse.rs, `Chdb`) to run influxgate's ClickHouse backend
against a current ClickHouse engine as well as Debian's 18.16 server. It implements the part of
the interface the backend uses:

* `GET /ping` answers `Ok.`;
* `POST /` with the statement as the body, or with `query=` in the URL and the body as the
  statement's data (`INSERT ... FORMAT RowBinary`, whose rows go through a temporary file and
  `FROM INFILE`);
* URL parameters other than the interface's own (`query`, `database`, `user`, `password`,
  `wait_end_of_query`, `buffer_size`, `default_format`) are settings, applied with `SET` so the
  engine checks their names and values;
* a statement ending in `FORMAT <name>` is answered in that format (default TabSeparated);
* an error answers 500 with the engine's exception text and `X-ClickHouse-Exception-Code`.

Statements run one at a time (one chdb session).
"""

import argparse
import os
import re
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from chdb import session as chdb_session

HTTP_ONLY = {"query", "database", "user", "password", "wait_end_of_query", "buffer_size", "default_format",
             "session_id", "session_timeout", "compress", "decompress"}
FORMAT_RE = re.compile(r"\s+FORMAT\s+([A-Za-z0-9_]+)\s*;?\s*$", re.S)
CODE_RE = re.compile(r"Code: (\d+)")


class Engine:
    def __init__(self, path):
        self.session = chdb_session.Session(path)
        self.lock = threading.Lock()
        self.tmp = tempfile.mkdtemp(prefix="chdb-http-")

    def run(self, sql, data, settings):
        with self.lock:
            for k, v in settings:
                self.session.query("SET %s = %s" % (k, quote(v)))
            fmt = "TabSeparated"
            m = FORMAT_RE.search(sql)
            if data is not None:
                if not m:
                    raise RuntimeError("Code: 62. DB::Exception: data sent without a FORMAT clause (SYNTAX_ERROR)")
                path = os.path.join(self.tmp, "insert.bin")
                with open(path, "wb") as f:
                    f.write(data)
                sql = sql[:m.start()] + " FROM INFILE " + quote(path) + " FORMAT " + m.group(1)
                self.session.query(sql)
                return b""
            if m:
                fmt = m.group(1)
                sql = sql[:m.start()]
            res = self.session.query(sql, fmt)
            return res.bytes() if res is not None else b""


def quote(v):
    return "'" + v.replace("\\", "\\\\").replace("'", "\\'") + "'"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # One answer is headers then body in two writes: without this, Nagle holds the body back
    # until the client acknowledges the headers (40 ms of delayed ACK per statement).
    disable_nagle_algorithm = True
    engine = None

    def log_message(self, fmt, *args):
        pass

    def answer(self, status, body, headers=()):
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Content-Type", "text/plain; charset=UTF-8")
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        url = urlsplit(self.path)
        if url.path == "/ping":
            self.answer(200, b"Ok.\n")
            return
        self.handle_query(url, None)

    def do_POST(self):
        url = urlsplit(self.path)
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        self.handle_query(url, body)

    def handle_query(self, url, body):
        params = parse_qsl(url.query, keep_blank_values=True)
        query = dict(params).get("query")
        settings = [(k, v) for k, v in params if k not in HTTP_ONLY]
        if query is None:
            sql, data = (body or b"").decode("utf-8"), None
        else:
            sql, data = query, (body if body else None)
        try:
            out = self.engine.run(sql, data, settings)
        except Exception as e:  # the engine's exception: answered as ClickHouse does
            text = str(e)
            m = CODE_RE.search(text)
            code = m.group(1) if m else "1000"
            self.answer(500, (text + "\n").encode("utf-8", "replace"), [("X-ClickHouse-Exception-Code", code)])
            return
        self.answer(200, out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--path", required=True)
    args = ap.parse_args()
    Handler.engine = Engine(args.path)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
