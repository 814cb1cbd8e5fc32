"""A Lambda runtime API server (the protocol the Lambda service speaks to a function's
process: `GET /2018-06-01/runtime/invocation/next`, `POST …/{id}/response`, `…/{id}/error`,
`…/init/error`) and API Gateway HTTP API (payload 2.0) events, shared by
tests/lambda_runtime.py and bench/lambda_functions.py.
"""

import json
import queue
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LAMBDA_ENV = {
    "AWS_LAMBDA_FUNCTION_NAME": "throughline",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "2048",
    "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
    "AWS_LAMBDA_LOG_GROUP_NAME": "/throughline/test",
    "AWS_LAMBDA_LOG_STREAM_NAME": "test",
    "AWS_REGION": "eu-central-1",
}


class RuntimeApi:
    def __init__(self):
        self.events = queue.Queue()
        self.responses = queue.Queue()
        self.first_poll = threading.Event()
        self.first_poll_at = None
        self.sent_at = None
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def setup(self):
                super().setup()
                # Headers and body go out as separate writes: without this, Nagle's algorithm
                # and the client's delayed ACK add ~40 ms to every invocation.
                self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def do_GET(self):
                if not self.path.endswith("/runtime/invocation/next"):
                    self.send_error(404)
                    return
                if not api.first_poll.is_set():
                    api.first_poll_at = time.perf_counter()
                    api.first_poll.set()
                request_id, event = api.events.get()
                payload = json.dumps(event).encode()
                self.send_response(200)
                self.send_header("Lambda-Runtime-Aws-Request-Id", request_id)
                self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 300_000))
                self.send_header("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:eu-central-1:123456789012:function:throughline")
                self.send_header("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000")
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                api.sent_at = time.perf_counter()
                self.wfile.write(payload)

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                api.responses.put((time.perf_counter(), self.path, body))
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


class Function:
    """A function binary running against its own runtime API, as in one Lambda sandbox."""

    def __init__(self, binary, env):
        self.api = RuntimeApi()
        self.started = time.perf_counter()
        self.proc = subprocess.Popen([binary], env={**env, **LAMBDA_ENV, "AWS_LAMBDA_RUNTIME_API": self.api.address},
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.count = 0

    def init_ms(self, timeout=60):
        if not self.api.first_poll.wait(timeout):
            raise RuntimeError("the function never asked for an event")
        return (self.api.first_poll_at - self.started) * 1000

    def invoke(self, event, timeout=600):
        """Returns (ok, response JSON or error body, handler latency in ms)."""
        self.count += 1
        self.api.events.put((f"req-{self.count}", event))
        done_at, path, body = self.api.responses.get(timeout=timeout)
        ok = path.endswith("/response")
        return ok, (json.loads(body) if ok else body.decode(errors="replace")), (done_at - self.api.sent_at) * 1000

    def close(self):
        self.proc.kill()
        self.proc.wait()
        self.api.server.shutdown()


def http_event(method, path, headers=None, body=None, query=None, path_params=None):
    """An API Gateway HTTP API (payload format 2.0) event."""
    query = query or {}
    return {
        "version": "2.0",
        "routeKey": f"{method} {path}",
        "rawPath": path,
        "rawQueryString": "&".join(f"{k}={v}" for k, v in query.items()),
        "queryStringParameters": query or None,
        "pathParameters": path_params,
        "headers": {"content-type": "application/json", **(headers or {})},
        "requestContext": {
            "accountId": "123456789012", "apiId": "local", "domainName": "local.execute-api.eu-central-1.amazonaws.com",
            "domainPrefix": "local",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.7", "userAgent": "test"},
            "requestId": "req", "routeKey": f"{method} {path}", "stage": "$default",
            "time": "24/Nov/2026:10:00:00 +0000", "timeEpoch": 1795514400000,
        },
        "body": body,
        "isBase64Encoded": False,
    }


SCHEDULED_EVENT = {
    "version": "0", "id": "1", "detail-type": "Scheduled Event", "source": "aws.events", "account": "123456789012",
    "time": "2026-11-24T03:15:00Z", "region": "eu-central-1", "resources": [], "detail": {},
}
