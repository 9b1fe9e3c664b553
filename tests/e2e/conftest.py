"""Session fixtures: the fake cloud, a real llama.cpp model server (SmolLM2-135M,
one thread), and the release airlock binary configured to use both; clients of
the official openai and anthropic SDKs pointed at it. All on 127.0.0.1 with
ephemeral ports; every process is stopped at the end."""

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import pytest

sys.path.insert(0, os.path.dirname(__file__))
import fake_cloud  # noqa: E402

GATEWAY_KEY = "e2e-gateway-key"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url, timeout, proc=None):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process for {url} exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except Exception:
            time.sleep(0.2)
    raise RuntimeError(f"{url} not ready after {timeout}s")


@pytest.fixture(scope="session")
def cloud():
    server, state = fake_cloud.start()
    yield server.server_address[1], state
    server.shutdown()


@pytest.fixture(scope="session")
def llama():
    model = os.environ["AIRLOCK_E2E_MODEL"]
    port = free_port()
    log = open(os.path.join(tempfile.gettempdir(), f"airlock-e2e-llama-{port}.log"), "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", model,
         "--model_alias", "smollm2-135m", "--host", "127.0.0.1", "--port", str(port),
         "--n_ctx", "2048", "--n_threads", "1"],
        stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_http(f"http://127.0.0.1:{port}/v1/models", 120, proc)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="session")
def gateway(cloud, llama):
    cloud_port, _ = cloud
    port = free_port()
    config = f"""
[server]
listen = "127.0.0.1:{port}"

[timeouts]
first_byte_ms = 120000

[health]
interval_ms = 1000

# Images cannot be scanned; here they count as internal, so the image tests
# can reach the (fake) cloud. The shipped default keeps them confidential.
[policy]
unscannable = "internal"

[[backends]]
name = "llama"
protocol = "openai"
base_url = "http://127.0.0.1:{llama}/v1"
tier = "local"
models = ["smollm2-135m"]

[[backends]]
name = "cloud"
protocol = "openai"
base_url = "http://127.0.0.1:{cloud_port}/v1"
api_key_env = "E2E_CLOUD_KEY"
tier = "public_cloud"
models = ["gpt-4o", "gpt-4o-mini", "text-embedding-3-small"]

[pools]
local = ["llama/smollm2-135m"]
frontier = ["cloud/gpt-4o"]
embeddings = ["cloud/text-embedding-3-small"]

[[rules]]
name = "complex-to-frontier"
when = {{ complexity_at_least = 0.5 }}
pool = "frontier"

[[rules]]
name = "default"
pool = "local"

[[keys]]
name = "e2e"
key_env = "E2E_GATEWAY_KEY"
"""
    path = os.path.join(tempfile.mkdtemp(), "airlock.toml")
    with open(path, "w") as f:
        f.write(config)
    env = dict(os.environ, E2E_CLOUD_KEY="sk-e2e-cloud", E2E_GATEWAY_KEY=GATEWAY_KEY)
    log = open(path + ".log", "w")
    proc = subprocess.Popen([os.environ["AIRLOCK_BIN"], "serve", "--config", path],
                            env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", 30, proc)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        with open(path + ".log") as f:
            logs = f.read()
        # Prompts must never appear in the gateway's logs.
        assert "zebra-canary" not in logs, "prompt text leaked into logs"
        assert "sk-e2e-cloud" not in logs and GATEWAY_KEY not in logs, "secret in logs"


@pytest.fixture()
def client(gateway):
    import openai
    return openai.OpenAI(base_url=gateway, api_key=GATEWAY_KEY, max_retries=0, timeout=120)


@pytest.fixture()
def claude(gateway):
    """The official anthropic SDK pointed at airlock: its base URL has no
    /v1 (the SDK appends /v1/messages), the gateway key as its API key."""
    import anthropic
    return anthropic.Anthropic(base_url=gateway.removesuffix("/v1"), api_key=GATEWAY_KEY,
                               max_retries=0, timeout=120)
