"""Says which libpq psycopg2 (built from its source distribution) links."""

import http.server

import psycopg2


class Version(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = f"psycopg2 {psycopg2.__version__.split()[0]} with libpq {psycopg2.__libpq_version__}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


if __name__ == "__main__":
    http.server.HTTPServer(("0.0.0.0", 8000), Version).serve_forever()
