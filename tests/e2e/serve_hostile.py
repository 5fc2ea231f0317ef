#!/usr/bin/env python3
"""Hostile HTTP requests against a running `ember-rt serve` on 127.0.0.1 (issue 20).

    serve_hostile.py PORT MODEL_NAME MAX_BODY_BYTES

Every malformed, oversized or hostile request must get a 4xx answer with a JSON error (when
the server answers at the HTTP level at all), never a 5xx, a dropped connection or a hang; the
server must keep serving good requests throughout. Raw sockets, so that requests no client
library would send (bad request lines, lying lengths, slow senders) can be made. Bounded: each
request has a 10 s deadline and the whole run sends a few hundred requests.
"""
import json
import socket
import sys
import threading
import time

PORT, NAME, MAX_BODY = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
IMAGE = [0.5] * 64
GOOD = {"id": "r", "inputs": [{"name": "image", "shape": [1, 1, 8, 8], "datatype": "FP32", "data": IMAGE}]}
INFER = f"/v2/models/{NAME}/infer"
failures = []
checks = 0


def read_answer(s):
    """Reads one HTTP answer: (status, body), or (None, reason) when there is none."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            return (None, "connection closed without an answer") if not data else (None, "a cut answer: %r" % data[:80])
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    try:
        status = int(head.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return None, "not an HTTP answer: %r" % data[:80]
    length = 0
    for line in head.split(b"\r\n")[1:]:
        key, _, value = line.partition(b":")
        if key.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = s.recv(65536)
        if not chunk:
            break
        body += chunk
    return status, body


def exchange(raw, timeout=10.0, shutdown=False):
    """Sends raw bytes, returns (status, body bytes) or (None, reason). `shutdown` closes the
    sending side (for requests the server would otherwise wait on); httplib then may not answer."""
    with socket.create_connection(("127.0.0.1", PORT), timeout=timeout) as s:
        try:
            s.sendall(raw)
            if shutdown:
                s.shutdown(socket.SHUT_WR)
            return read_answer(s)
        except socket.timeout:
            return None, "no answer within %.0f s" % timeout
        except (ConnectionResetError, BrokenPipeError) as e:
            return None, "connection error: %s" % e


def request(method, path, body=b"", headers=None, extra=b""):
    headers = dict(headers or {})
    if isinstance(body, str):
        body = body.encode()
    if "Content-Length" not in headers and "Transfer-Encoding" not in headers:
        headers["Content-Length"] = str(len(body))
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + extra + body


def check(what, raw, allowed=range(400, 500), json_error=True, answer_optional=False, incomplete=False):
    """One hostile request: a 4xx (or what `allowed` says), with a JSON error body. An
    `incomplete` request is followed by closing the sending side; an answer is then optional."""
    global checks
    checks += 1
    start = time.time()
    status, body = exchange(raw, shutdown=incomplete)
    answer_optional = answer_optional or incomplete
    took = time.time() - start
    if status is None:
        if not answer_optional:
            failures.append(f"{what}: {body}")
        print(f"  {what}: {body} in {took:.2f} s")
        return
    if status not in allowed:
        failures.append(f"{what}: HTTP {status} ({body[:120]!r})")
    elif json_error and status >= 400 and body:
        try:
            if "error" not in json.loads(body):
                failures.append(f"{what}: no 'error' in {body[:120]!r}")
        except ValueError:
            failures.append(f"{what}: the answer is not JSON: {body[:120]!r}")
    if took > 8:
        failures.append(f"{what}: took {took:.1f} s")
    print(f"  {what}: {status if status is not None else body} in {took:.2f} s")


def still_serving(after):
    global checks
    checks += 1
    status, body = exchange(request("POST", INFER, json.dumps(GOOD)))
    if status != 200:
        failures.append(f"a good request after {after}: HTTP {status} {body[:120]!r}")


def body_cases():
    good = json.dumps(GOOD)
    cases = {
        "truncated JSON": good[: len(good) // 2],
        "not an object": "[1, 2, 3]",
        "empty body": "",
        "deep nesting": "[" * 200000,
        "deep nesting in data": good.replace("[0.5,", "[" * 5000 + "0.5," , 1),
        "NUL bytes": "\0" * 1000,
        "invalid UTF-8": b'{"id": "\xff\xfe", "inputs": []}',
        "wrong dtype": good.replace("FP32", "INT64"),
        "unknown dtype": good.replace("FP32", "COMPLEX128"),
        "wrong shape": good.replace("[1, 1, 8, 8]", "[1, 1, 8, 7]"),
        "negative dim": good.replace("[1, 1, 8, 8]", "[-1, 1, 8, 8]"),
        "huge dims": good.replace("[1, 1, 8, 8]", "[4611686018427387904, 4, 8, 8]"),
        "dims overflow": good.replace("[1, 1, 8, 8]", "[1e400, 1, 8, 8]"),
        "float dim": good.replace("[1, 1, 8, 8]", "[1.5, 1, 8, 8]"),
        "shape not an array": good.replace("[1, 1, 8, 8]", '"1x1x8x8"'),
        "too little data": json.dumps({"inputs": [{"name": "image", "shape": [1, 1, 8, 8], "datatype": "FP32", "data": [1]}]}),
        "nested data": json.dumps({"inputs": [{"name": "image", "shape": [1, 1, 8, 8], "datatype": "FP32", "data": [IMAGE]}]}),
        "string data": good.replace("0.5", '"0.5"', 1),
        "float overflow": good.replace("0.5", "1e400", 1),
        "float out of FP32 range": good.replace("0.5", "1e300", 1),
        "unknown input": good.replace('"image"', '"pixels"'),
        "input twice": json.dumps({"inputs": GOOD["inputs"] * 2}),
        "no inputs": '{"inputs": []}',
        "inputs not an array": '{"inputs": {}}',
        "input not an object": '{"inputs": [7]}',
        "name not a string": '{"inputs": [{"name": 7}]}',
        "id not a string": json.dumps({**GOOD, "id": 7}),
        "bad priority": json.dumps({**GOOD, "parameters": {"priority": "asap"}}),
        "priority not a string": json.dumps({**GOOD, "parameters": {"priority": 1}}),
        "timeout 0": json.dumps({**GOOD, "parameters": {"timeout_ms": 0}}),
        "timeout huge": json.dumps({**GOOD, "parameters": {"timeout_ms": 10**30}}),
        "parameters not an object": json.dumps({**GOOD, "parameters": []}),
    }
    for what, body in cases.items():
        check(what, request("POST", INFER, body, {"Content-Type": "application/json"}))


def size_cases():
    check("body over the limit", request("POST", INFER, b" " * (MAX_BODY + 1)), allowed=[413])
    check("Content-Length over the limit", request("POST", INFER, b"", {"Content-Length": str(MAX_BODY * 1000)}), allowed=[413])
    check("Content-Length overflowing 64 bits", request("POST", INFER, b"", {"Content-Length": "99999999999999999999999"}),
          answer_optional=True)
    check("negative Content-Length", request("POST", INFER, b"{}", {"Content-Length": "-5"}), answer_optional=True)
    check("Content-Length not a number", request("POST", INFER, b"{}", {"Content-Length": "lots"}), answer_optional=True)
    # A chunked body larger than the limit, in 1 KB chunks.
    chunk = b"400\r\n" + b" " * 1024 + b"\r\n"
    chunks = chunk * (MAX_BODY // 1024 + 2) + b"0\r\n\r\n"
    check("chunked body over the limit", request("POST", INFER, chunks, {"Transfer-Encoding": "chunked"}), answer_optional=True)
    check("bad chunk size", request("POST", INFER, b"zz\r\nxx\r\n0\r\n\r\n", {"Transfer-Encoding": "chunked"}), incomplete=True)
    check("a body shorter than its Content-Length", request("POST", INFER, b"{}", {"Content-Length": "100"}), incomplete=True)


def path_and_header_cases():
    good = json.dumps(GOOD)
    check("unknown model", request("POST", "/v2/models/nosuch/infer", good), allowed=[404])
    check("percent-encoded invalid UTF-8 in the model name", request("POST", "/v2/models/%ff%fe/infer", good), allowed=[404])
    check("NUL in the model name", request("POST", "/v2/models/di%00gits/infer", good), allowed=[404])
    check("long model name", request("POST", "/v2/models/" + "x" * 7000 + "/infer", good), allowed=[404, 414])
    check("URI over the limit", request("POST", "/v2/models/" + "x" * 20000 + "/infer", good), allowed=[414, 400])
    check("metadata of an unknown model", request("GET", "/v2/models/%ff", b""), allowed=[404])
    check("path traversal", request("GET", "/v2/models/../../../etc/passwd", b""), allowed=[400, 404])
    check("no such route", request("GET", "/etc/passwd", b""), allowed=[404])
    check("wrong method", request("DELETE", INFER, good), allowed=[400, 404, 405])
    check("unknown method", request("BREW", INFER, good), allowed=[400, 404, 405])
    check("bad priority header", request("POST", INFER, good, {"X-Ember-Priority": "asap"}), allowed=[400])
    check("invalid UTF-8 priority header", request("POST", INFER, good, {"X-Ember-Priority": "\xff\xfe"}), allowed=[400])
    check("huge header", request("POST", INFER, good, {"X-Ember-Priority": "u" * 100000}), answer_optional=True)
    many = {f"X-Junk-{i}": "x" for i in range(500)}
    check("many headers", request("POST", INFER, good, many), allowed=range(200, 500), json_error=False, answer_optional=True)
    check("garbage request line", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\0" * 200, incomplete=True)
    check("HTTP/9.9", b"GET /v2/health/live HTTP/9.9\r\n\r\n", allowed=range(200, 500), answer_optional=True)
    check("header without colon", b"GET /v2/health/live HTTP/1.1\r\nHost 127.0.0.1\r\n\r\n", allowed=range(200, 500),
          answer_optional=True)
    # The answer is JSON even when the echoed id is cut inside a multi-byte character.
    check("id cut inside a UTF-8 character", request("POST", INFER, json.dumps({**GOOD, "id": "a" * 255 + "\u00e9"})),
          allowed=[200], json_error=False)


def slow_and_many_cases():
    """A client that sends half a request and waits, and a burst of garbage connections: neither
    may stop the server from answering others."""
    slow = socket.create_connection(("127.0.0.1", PORT), timeout=10)
    slow.sendall(b"POST " + INFER.encode() + b" HTTP/1.1\r\nContent-Length: 1000\r\n\r\n{\"inputs\": ")
    still_serving("a half-sent request")

    def garbage(i):
        try:
            exchange(bytes((i * 7 + k) % 256 for k in range(512)), timeout=10, shutdown=True)
        except OSError:
            pass

    threads = [threading.Thread(target=garbage, args=(i,)) for i in range(64)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=15)
    still_serving("64 garbage connections")
    slow.close()


def main():
    still_serving("start-up")
    body_cases()
    still_serving("malformed bodies")
    size_cases()
    still_serving("oversized requests")
    path_and_header_cases()
    still_serving("hostile paths and headers")
    slow_and_many_cases()
    for f in failures:
        print("FAIL:", f)
    print(f"{checks} hostile requests, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
