#!/usr/bin/env python3
"""A webhook receiver for tests: verifies every request with the Standard Webhooks reference
library (PyPI `standardwebhooks`, installed by scripts/ensure-webhook-verifier.sh), never with the
platform's own code, logs the verified ids, and answers according to its mode.

Usage: webhook-receiver.py [--port N]   (0, the default, picks a free port)
Prints `listening <port>` on stdout once it accepts requests. Controlled over HTTP:
  POST /_control  {"secrets": {"name": "whsec_..."}, "fail_first": N, "sleep_first": N, "sleep_secs": S}
                  (each key optional): fail the next N requests with 500, then make the next N
                  sleep S seconds (so the sender times out), then answer 200.
  GET  /_log      [{"id", "verified_by": [names of the secrets that verify], "answered": code}]
Any other POST is a webhook. One without a signature that verifies under some secret is answered
400 and logged with `verified_by: []`.
"""

import argparse
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

LOCK = threading.Lock()
STATE = {"secrets": {}, "fail_first": 0, "sleep_first": 0, "sleep_secs": 0.0, "log": []}


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):  # quiet: the test reads /_log
        pass

    def answer(self, code, body=b""):
        self.send_response(code)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path != "/_log":
            return self.answer(404)
        with LOCK:
            body = json.dumps(STATE["log"]).encode()
        self.answer(200, body)

    def do_POST(self):
        length = int(self.headers.get("content-length") or 0)
        data = self.rfile.read(length)
        if self.path == "/_control":
            change = json.loads(data or b"{}")
            with LOCK:
                for key in ("secrets", "fail_first", "sleep_first", "sleep_secs"):
                    if key in change:
                        STATE[key] = change[key]
            return self.answer(204)
        headers = {k.lower(): v for k, v in self.headers.items()}
        with LOCK:
            secrets = dict(STATE["secrets"])
        verified = []
        for name, secret in secrets.items():
            try:
                Webhook(secret).verify(data, headers)
                verified.append(name)
            except (WebhookVerificationError, ValueError):  # binascii.Error is a ValueError
                pass
        with LOCK:
            if not verified:
                code, sleep = 400, 0.0
            elif STATE["fail_first"] > 0:
                STATE["fail_first"] -= 1
                code, sleep = 500, 0.0
            elif STATE["sleep_first"] > 0:
                STATE["sleep_first"] -= 1
                code, sleep = 200, float(STATE["sleep_secs"])
            else:
                code, sleep = 200, 0.0
            STATE["log"].append(
                {"id": headers.get("webhook-id"), "verified_by": verified, "answered": code, "slept": sleep > 0}
            )
        if sleep:
            time.sleep(sleep)
        try:
            self.answer(code, b'{"received": true}' if code == 200 else b'{"error": "refused"}')
        except (BrokenPipeError, ConnectionResetError):
            pass  # the sender timed out and left


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    print(f"listening {server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
