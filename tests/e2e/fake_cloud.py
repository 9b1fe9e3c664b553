"""A fake OpenAI API server for the end-to-end tests, on 127.0.0.1.

Speaks the OpenAI wire format as documented: chat.completion objects, SSE
chat.completion.chunk streams ending in `data: [DONE]`, embeddings as float
arrays or base64 (little-endian float32, what the official SDK asks for by
default), `{"error": {...}}` bodies. It counts what it receives so the tests
can prove what never reached the cloud. Standard library only.

What it answers: with `tools` (and `tool_choice` not "none") and a last
message that is not a tool result, a call of the first tool with
`{"city": "Paris"}` (streamed as an id-and-name delta, then the arguments
in two pieces); after a tool result, "Tool said: <result>."; for a user
turn holding images, "I see <n> images."; else "Cloud says hello."
"""

import base64
import json
import struct
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.requests = []  # (path, headers dict, body dict)
        self.cut_stream = False

    def record(self, path, headers, body):
        with self.lock:
            self.requests.append((path, dict(headers), body))

    def last_post(self):
        """The last request with a body: a health probe (a GET) may have
        come in after it."""
        with self.lock:
            return next(r for r in reversed(self.requests) if r[2] is not None)

    def count(self, path_suffix):
        with self.lock:
            return sum(1 for p, _, _ in self.requests if p.endswith(path_suffix))


TOOL_ID = "call_fake_weather"
TOOL_ARGS = {"city": "Paris"}


def answer(body):
    """(words of the text answer, name of the tool to call or None)."""
    messages = body.get("messages") or [{}]
    last = messages[-1]
    tools = body.get("tools") or []
    if last.get("role") == "tool":
        content = last.get("content")
        if isinstance(content, list):
            content = "".join(p.get("text", "") for p in content)
        return ["Tool", " said: ", f"{content}."], None
    if tools and body.get("tool_choice") != "none":
        return ["Let", " me", " check."], tools[0]["function"]["name"]
    content = last.get("content")
    if isinstance(content, list):
        images = sum(1 for p in content if p.get("type") == "image_url")
        if images:
            return ["I see", f" {images} images."], None
    return ["Cloud", " says", " hello."], None


def make_handler(state):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # keep test output quiet
            pass

        def _json(self, status, obj):
            data = json.dumps(obj).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            state.record(self.path, self.headers, None)
            if self.path == "/v1/models":
                self._json(200, {"object": "list", "data": [
                    {"id": m, "object": "model", "created": 1700000000, "owned_by": "fake"}
                    for m in ("gpt-4o", "gpt-4o-mini", "text-embedding-3-small")]})
            else:
                self._json(404, {"error": {"message": "not found", "type": "invalid_request_error",
                                           "param": None, "code": None}})

        def do_POST(self):
            length = int(self.headers.get("content-length", "0"))
            body = json.loads(self.rfile.read(length) or b"{}")
            state.record(self.path, self.headers, body)
            if self.path == "/v1/chat/completions":
                return self.chat(body)
            if self.path == "/v1/embeddings":
                return self.embeddings(body)
            self._json(404, {"error": {"message": "not found", "type": "invalid_request_error",
                                       "param": None, "code": None}})

        def chat(self, body):
            model = body.get("model")
            words, call = answer(body)
            if not body.get("stream"):
                message = {"role": "assistant", "content": "".join(words) or None,
                           "refusal": None}
                if call:
                    message["tool_calls"] = [{"id": TOOL_ID, "type": "function", "function": {
                        "name": call, "arguments": json.dumps(TOOL_ARGS)}}]
                return self._json(200, {
                    "id": "chatcmpl-cloud", "object": "chat.completion", "created": 1700000000,
                    "model": model, "system_fingerprint": "fp_fake",
                    "choices": [{"index": 0, "finish_reason": "tool_calls" if call else "stop",
                                 "logprobs": None, "message": message}],
                    "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}})
            self.send_response(200)
            self.send_header("content-type", "text/event-stream; charset=utf-8")
            self.send_header("cache-control", "no-cache")
            self.send_header("connection", "close")
            self.end_headers()

            def chunk(delta, finish=None):
                c = {"id": "chatcmpl-cloud", "object": "chat.completion.chunk",
                     "created": 1700000000, "model": model,
                     "choices": [{"index": 0, "delta": delta, "logprobs": None,
                                  "finish_reason": finish}]}
                self.wfile.write(f"data: {json.dumps(c)}\n\n".encode())
                self.wfile.flush()

            chunk({"role": "assistant", "content": ""})
            for i, w in enumerate(words):
                if state.cut_stream and i == 1:
                    self.close_connection = True
                    return  # the connection drops mid-stream
                chunk({"content": w})
            if call:
                chunk({"tool_calls": [{"index": 0, "id": TOOL_ID, "type": "function",
                                       "function": {"name": call, "arguments": ""}}]})
                args = json.dumps(TOOL_ARGS)
                for piece in (args[:5], args[5:]):
                    chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]})
            chunk({}, "tool_calls" if call else "stop")
            if (body.get("stream_options") or {}).get("include_usage"):
                u = {"id": "chatcmpl-cloud", "object": "chat.completion.chunk",
                     "created": 1700000000, "model": model, "choices": [],
                     "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}}
                self.wfile.write(f"data: {json.dumps(u)}\n\n".encode())
            self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()

        def embeddings(self, body):
            inputs = body.get("input")
            inputs = inputs if isinstance(inputs, list) else [inputs]
            data = []
            for i, _ in enumerate(inputs):
                vec = [0.25, -0.5, 1.0]
                if body.get("encoding_format") == "base64":
                    emb = base64.b64encode(struct.pack("<3f", *vec)).decode()
                else:
                    emb = vec
                data.append({"object": "embedding", "index": i, "embedding": emb})
            self._json(200, {"object": "list", "data": data, "model": body.get("model"),
                             "usage": {"prompt_tokens": 2, "total_tokens": 2}})

    return Handler


def start():
    """Starts the server on an ephemeral port; returns (server, state)."""
    state = State()
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(state))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, state
