"""A small service of the monorepo on the standard library's server,
taking its greeting from the sibling package libs/common (poetry path
dependency)."""

import os
from http.server import BaseHTTPRequestHandler, HTTPServer

from common import GREETING


class Greeter(BaseHTTPRequestHandler):
    def do_GET(self):
        body = f"poetry-api says: {GREETING}".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


if __name__ == "__main__":
    port = int(os.environ.get("PORT", "8000"))
    HTTPServer(("0.0.0.0", port), Greeter).serve_forever()
