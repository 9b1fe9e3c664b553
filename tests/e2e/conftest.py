"""Session fixtures: the fake cloud, a real llama.cpp model server (SmolLM2-135M,
one thread), and the release airlock binary configured to use both; clients of
the official openai and anthropic SDKs pointed at it. Besides, the provider
fakes of tests/fakes/ (served by the fake_providers example) and a second
airlock binary with one backend per fake (Anthropic, Gemini, Azure OpenAI,
Bedrock, Ollama, OpenAI). All on 127.0.0.1 with ephemeral ports; every
process is stopped at the end."""

import json
import os
import select
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
    proc, log, path = start_gateway(
        config, {"E2E_CLOUD_KEY": "sk-e2e-cloud", "E2E_GATEWAY_KEY": GATEWAY_KEY})
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", 30, proc)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        stop_gateway(proc, log, path, ["sk-e2e-cloud", GATEWAY_KEY])


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


def start_gateway(config, env):
    """Starts the airlock binary on `config` (a TOML string with its listen
    address) with `env` added to the environment, its output to a log file."""
    path = os.path.join(tempfile.mkdtemp(), "airlock.toml")
    if "[audit]" not in config:
        # The audit database beside the config, checked on stop.
        config += '\n[audit]\npath = "%s"\n' % (path + ".audit.sqlite")
    with open(path, "w") as f:
        f.write(config)
    log = open(path + ".log", "w")
    proc = subprocess.Popen([os.environ["AIRLOCK_BIN"], "serve", "--config", path],
                            env=dict(os.environ, **env), stdout=log, stderr=subprocess.STDOUT)
    return proc, log, path


def stop_gateway(proc, log, path, secrets):
    """Stops the binary, then checks that neither the prompt marker nor any
    of `secrets` reached its logs."""
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()
    with open(path + ".log") as f:
        logs = f.read()
    assert "zebra-canary" not in logs, "prompt text leaked into logs"
    # The audit recorded the traffic, its chain holds, and it holds no
    # prompt text either.
    db = path + ".audit.sqlite"
    if os.path.exists(db):
        verify = subprocess.run([os.environ["AIRLOCK_BIN"], "audit", "verify", "--db", db],
                                capture_output=True, text=True)
        assert verify.returncode == 0, verify.stdout + verify.stderr
        for f in (db, db + "-wal"):
            if os.path.exists(f):
                with open(f, "rb") as fh:
                    assert b"zebra-canary" not in fh.read(), "prompt text in the audit"
    for secret in secrets:
        assert secret not in logs, "secret in logs"


@pytest.fixture(scope="session")
def fakes():
    """The fake_providers example: the Rust fakes of tests/fakes/ (the same
    code the gateway tests use), each checking what airlock sends as the real
    service does. Yields its ready line: addresses, models, credentials."""
    log = open(os.path.join(tempfile.gettempdir(), f"airlock-e2e-fakes-{os.getpid()}.log"), "w")
    proc = subprocess.Popen([os.environ["AIRLOCK_FAKES_BIN"]], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=log, text=True)
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 30)
        line = proc.stdout.readline() if ready else ""
        if not line:
            raise RuntimeError(f"fake_providers did not start (exit {proc.poll()})")
        yield json.loads(line)
    finally:
        proc.stdin.close()  # it exits when its stdin closes
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="session")
def providers_gateway(fakes):
    """airlock with one backend per fake, named after it; tests name the
    backend (`model="gemini/gemini-2.5-flash"`). Credentials as the Rust
    gateway tests give them: the fakes' key, and AWS test credentials that
    Bedrock's fake checks the SigV4 signature with."""
    creds = fakes["credentials"]
    port = free_port()
    def models(name):
        return json.dumps(fakes[name]["models"])
    config = f"""
[server]
listen = "127.0.0.1:{port}"

[health]
interval_ms = 1000

# Images cannot be scanned; here they count as internal, so they may reach
# the cloud fakes. The shipped default keeps them confidential.
[policy]
unscannable = "internal"

[[backends]]
name = "anthropic"
protocol = "anthropic"
base_url = "http://{fakes["anthropic"]["addr"]}"
api_key_env = "E2E_PROVIDER_KEY"
tier = "public_cloud"
models = {models("anthropic")}

[[backends]]
name = "gemini"
protocol = "gemini"
base_url = "http://{fakes["gemini"]["addr"]}"
api_key_env = "E2E_PROVIDER_KEY"
tier = "public_cloud"
models = {models("gemini")}

[[backends]]
name = "azure"
protocol = "azure_openai"
base_url = "http://{fakes["azure_openai"]["addr"]}"
api_key_env = "E2E_PROVIDER_KEY"
api_version = "{fakes["azure_openai"]["api_version"]}"
tier = "private_cloud"
models = {models("azure_openai")}

[[backends]]
name = "bedrock"
protocol = "bedrock"
region = "{fakes["bedrock"]["region"]}"
base_url = "http://{fakes["bedrock"]["addr"]}"
tier = "private_cloud"
models = {models("bedrock")}

# mistral:7b is configured but not pulled: Ollama answers 404.
[[backends]]
name = "ollama"
protocol = "ollama"
base_url = "http://{fakes["ollama"]["addr"]}"
tier = "local"
models = {json.dumps(fakes["ollama"]["models"] + ["mistral:7b"])}
capabilities."llava:13b" = {{ modalities = ["text", "image"] }}

[[backends]]
name = "openai"
protocol = "openai"
base_url = "http://{fakes["openai"]["addr"]}/v1"
api_key_env = "E2E_PROVIDER_KEY"
tier = "public_cloud"
models = {models("openai")}

[pools]
local = ["ollama/llama3.1:8b"]

[[rules]]
name = "default"
pool = "local"

[[keys]]
name = "e2e"
key_env = "E2E_GATEWAY_KEY"
"""
    env = {"E2E_PROVIDER_KEY": creds["api_key"], "E2E_GATEWAY_KEY": GATEWAY_KEY,
           "AWS_ACCESS_KEY_ID": creds["aws_access_key_id"],
           "AWS_SECRET_ACCESS_KEY": creds["aws_secret_access_key"],
           "AWS_SESSION_TOKEN": creds["aws_session_token"]}
    proc, log, path = start_gateway(config, env)
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", 30, proc)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        stop_gateway(proc, log, path, [GATEWAY_KEY, creds["api_key"],
                                       creds["aws_secret_access_key"],
                                       creds["aws_session_token"]])


@pytest.fixture()
def routed(fakes):
    """`routed("gemini")` -> "gemini/gemini-2.5-flash": the backend/model
    that makes airlock call that fake and no other."""
    names = {"azure": "azure_openai"}
    return lambda backend: f"{backend}/{fakes[names.get(backend, backend)]['models'][0]}"


@pytest.fixture()
def pclient(providers_gateway):
    import openai
    return openai.OpenAI(base_url=providers_gateway, api_key=GATEWAY_KEY, max_retries=0,
                         timeout=30)


@pytest.fixture()
def pclaude(providers_gateway):
    import anthropic
    return anthropic.Anthropic(base_url=providers_gateway.removesuffix("/v1"),
                               api_key=GATEWAY_KEY, max_retries=0, timeout=30)
