"""A status page served by the standard library, on a port of its own."""

from http.server import BaseHTTPRequestHandler, HTTPServer

BASE = 6000
OFFSET = 543


class Status(BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"status: all systems nominal\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


if __name__ == "__main__":
    HTTPServer(("0.0.0.0", BASE + OFFSET), Status).serve_forever()
