"""The dashboard in a real browser: the airlock binary, two fake OpenAI
servers (one as the local tier, one as a priced public cloud), some traffic
(local confidential and restricted, cloud public, a bad request, an unknown
model), then /dashboard loaded in headless Chromium (Debian's package,
installed by scripts/setup-chromium.sh when missing) with --dump-dom. Every
number the page shows under a data-* attribute must equal what
`airlock report --format json` says over the same database and config, and
what GET /v1/airlock/report answers.

Skips, saying why, only when no chromium is on the PATH and it cannot be
installed. Standard library only, besides pytest."""

import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from html.parser import HTMLParser

import pytest

import fake_cloud
from conftest import free_port, start_gateway, stop_gateway, wait_http

KEY = "dash-gateway-key"
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
COMPLEX = ("Analyze the trade-offs step by step and compare three strategies, "
           "then evaluate the architecture.\n1. latency\n2. cost\n3. risk\nFinally, derive a plan.")


def find_chromium():
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return None


@pytest.fixture(scope="module")
def chromium():
    path = find_chromium()
    if path is None:
        setup = subprocess.run(["bash", os.path.join(ROOT, "scripts", "setup-chromium.sh")],
                               capture_output=True, text=True)
        path = find_chromium()
        if path is None:
            pytest.skip("chromium is not installed and scripts/setup-chromium.sh could not "
                        f"install it (exit {setup.returncode}): {setup.stderr.strip()[-400:]}")
    return path


@pytest.fixture(scope="module")
def dash():
    local, _ = fake_cloud.start()
    cloud, _ = fake_cloud.start()
    port = free_port()
    config = f"""
[server]
listen = "127.0.0.1:{port}"

[health]
interval_ms = 1000

[[backends]]
name = "local-fake"
protocol = "openai"
base_url = "http://127.0.0.1:{local.server_address[1]}/v1"
tier = "local"
models = ["gpt-4o-mini"]
monthly_cost_usd = 30.0

[[backends]]
name = "cloud"
protocol = "openai"
base_url = "http://127.0.0.1:{cloud.server_address[1]}/v1"
api_key_env = "DASH_CLOUD_KEY"
tier = "public_cloud"
models = ["gpt-4o"]
prices."gpt-4o" = {{ input = 2.50, output = 10.00 }}

[pools]
local = ["local-fake/gpt-4o-mini"]
frontier = ["cloud/gpt-4o"]

[economics]
cloud_pool = "frontier"
local_pool = "local"

[[rules]]
name = "sensitive-local"
when = {{ sensitivity_at_least = "confidential" }}
pool = "local"

[[rules]]
name = "complex-to-frontier"
when = {{ complexity_at_least = 0.5 }}
pool = "frontier"

[[rules]]
name = "default"
pool = "local"

[[keys]]
name = "dash"
key_env = "DASH_GATEWAY_KEY"
"""
    proc, log, path = start_gateway(config, {"DASH_CLOUD_KEY": "sk-dash-cloud",
                                             "DASH_GATEWAY_KEY": KEY})
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{base}/healthz", 30, proc)
        yield base, path
    finally:
        stop_gateway(proc, log, path, ["sk-dash-cloud", KEY])
        local.shutdown()
        cloud.shutdown()


def call(base, method, path, body=None, headers=None):
    data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method, headers={
        "authorization": f"Bearer {KEY}", "content-type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def chat(base, text, model="auto", headers=None):
    return call(base, "POST", "/v1/chat/completions",
                {"model": model, "messages": [{"role": "user", "content": text}]}, headers)[0]


class Dom(HTMLParser):
    """Every element with a data-* attribute: its attributes and text."""

    def __init__(self):
        super().__init__()
        self.found = []  # (attrs dict, text parts list)
        self.open = []  # stack of (tag, index into found or None)
        self.body = {}

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "body":
            self.body = a
        idx = None
        if any(k.startswith("data-") for k in a):
            idx = len(self.found)
            self.found.append((a, []))
        self.open.append((tag, idx))

    def handle_endtag(self, tag):
        while self.open:
            t, _ = self.open.pop()
            if t == tag:
                break

    def handle_data(self, data):
        for _, idx in self.open:
            if idx is not None:
                self.found[idx][1].append(data)

    def one(self, **want):
        want = {"data-" + k.replace("_", "-"): v for k, v in want.items()}
        hits = [(a, "".join(t).strip()) for a, t in self.found
                if all(a.get(k) == v for k, v in want.items())]
        assert len(hits) == 1, f"expected one element with {want}, found {len(hits)}"
        return hits[0]

    def text(self, **want):
        return self.one(**want)[1]

    def value(self, **want):
        return float(self.one(**want)[0]["data-value"])


def close(a, b, tol=1e-9):
    return abs(a - b) <= tol * max(1.0, abs(a), abs(b))


def test_dashboard_shows_the_report(chromium, dash):
    base, config_path = dash
    # Traffic: confidential and restricted stay local, complex public goes to
    # the cloud, one malformed body, one unknown model.
    assert chat(base, "please mail jane.doe@example.com the minutes") == 200
    assert chat(base, "summarise our plan", headers={"x-airlock-min-sensitivity": "restricted"}) == 200
    assert chat(base, COMPLEX) == 200
    assert chat(base, COMPLEX) == 200
    assert chat(base, "hello there") == 200
    assert call(base, "POST", "/v1/chat/completions", b'{"model": ')[0] == 400
    assert chat(base, "hi", model="no-such-model") == 404
    sent = 7

    # The audit writes in batches: wait until the report holds them all.
    deadline = time.time() + 15
    while True:
        status, api = call(base, "GET", "/v1/airlock/report?since=all")
        assert status == 200, api
        if api["requests"] >= sent or time.time() > deadline:
            break
        time.sleep(0.2)
    assert api["requests"] == sent

    # The CLI over the same database and config says the same.
    cli = subprocess.run([os.environ["AIRLOCK_BIN"], "report", "--config", config_path,
                          "--since", "all", "--format", "json"],
                         capture_output=True, text=True, timeout=60,
                         env=dict(os.environ, DASH_CLOUD_KEY="x", DASH_GATEWAY_KEY="y"))
    assert cli.returncode == 0, cli.stderr
    report = json.loads(cli.stdout)
    for k, v in report.items():
        if k in ("until_ms", "all_local_usd"):
            continue  # the moment each was asked
        assert api[k] == v, f"{k}: endpoint {api[k]!r}, airlock report {v!r}"
    assert abs(api["all_local_usd"] - report["all_local_usd"]) < 1e-3
    assert report["restricted_to_cloud"] == 0
    assert report["served"] == 5 and report["all_cloud_usd"] > report["cost_usd"] > 0

    # The page, rendered by Chromium, the key in the fragment.
    with tempfile.TemporaryDirectory() as profile:
        out = subprocess.run(
            [chromium, "--headless", "--disable-gpu", "--no-sandbox", "--no-first-run",
             f"--user-data-dir={profile}", "--virtual-time-budget=10000", "--dump-dom",
             f"{base}/dashboard#key={KEY}&since=all&every=60"],
            capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    dom = Dom()
    dom.feed(out.stdout)
    assert dom.body.get("data-loaded") == "1", (dom.body, out.stdout[-2000:])
    assert dom.body.get("data-error") == ""
    assert dom.body.get("data-since") == "all"

    for metric in ("requests", "served", "restricted_to_cloud"):
        assert int(dom.text(metric=metric)) == report[metric], metric
    assert dom.one(metric="restricted_to_cloud")[0].get("data-value") == "0"
    for metric in ("cost_usd", "all_cloud_usd", "local_share"):
        assert close(dom.value(metric=metric), report[metric]), metric
    assert close(dom.value(metric="savings_usd"), report["all_cloud_usd"] - report["cost_usd"])

    flows = [a for a, _ in dom.found if "data-flow" in a]
    assert len(flows) == len(report["flows"])
    for f in report["flows"]:
        name = f"{f['level']}/{f['tier']}/{f['backend']}"
        assert int(dom.text(flow=name)) == f["requests"], name
        assert int(dom.text(flow_tokens=name)) == f["tokens"], name
    assert int(dom.text(flow="confidential/local/local-fake")) == 1
    assert int(dom.text(flow="restricted/local/local-fake")) == 1
    assert int(dom.text(flow="public/public_cloud/cloud")) == 2

    for task, n in report["requests_by_task"].items():
        assert int(dom.text(task=task)) == n, task
    for lat in report["latency"]:
        for q in ("p50", "p90", "p99"):
            assert close(dom.value(latency=lat["backend"], quantile=q), lat[q + "_ms"])
    for day in report["daily"]:
        assert close(dom.value(day=day["date"], series="cost"), day["cost_usd"])
        assert close(dom.value(day=day["date"], series="all_cloud"), day["all_cloud_usd"])
        assert int(dom.text(day_requests=day["date"])) == day["requests"]
    for group in ("tier", "backend", "task"):
        for k, v in report[f"cost_by_{group}"].items():
            assert close(dom.value(cost=f"{group}/{k}"), v)

    # Health as the endpoint has it now (both fakes stay up).
    for b in api["backends"]:
        assert dom.text(backend=b["name"], health="state") == b["state"] == "up"
