"""End to end: the official openai SDK against the built airlock binary, which
routes to a real local model (llama.cpp serving SmolLM2-135M) and a fake cloud."""

import openai
import pytest


def test_chat_routes_simple_requests_to_the_real_local_model(client, cloud):
    _, state = cloud
    before = state.count("/chat/completions")
    raw = client.chat.completions.with_raw_response.create(
        model="auto", max_tokens=16,
        messages=[{"role": "user", "content": "Say hello. zebra-canary"}])
    assert raw.headers["x-airlock-backend"] == "llama"
    assert raw.headers["x-airlock-tier"] == "local"
    assert raw.headers["x-airlock-rule"] == "default"
    assert raw.headers["x-airlock-request-id"]
    completion = raw.parse()
    assert completion.choices[0].message.content
    assert completion.usage.completion_tokens > 0
    assert state.count("/chat/completions") == before


def test_streaming_chat_from_the_real_local_model(client):
    stream = client.chat.completions.create(
        model="local", max_tokens=16, stream=True, stream_options={"include_usage": True},
        messages=[{"role": "user", "content": "Count to three."}])
    text, finish, chunks = "", None, 0
    for chunk in stream:
        chunks += 1
        for choice in chunk.choices:
            text += choice.delta.content or ""
            finish = choice.finish_reason or finish
    assert text.strip()
    assert chunks > 2, "streamed in several chunks, not one"
    assert finish in ("stop", "length")
    # llama-cpp-python 0.3.36 ignores stream_options.include_usage; airlock
    # passes the stream through as the backend sends it (see the cloud test).


def test_complex_public_request_goes_to_the_cloud(client, cloud):
    _, state = cloud
    raw = client.chat.completions.with_raw_response.create(
        model="auto",
        messages=[{"role": "user", "content":
                   "Analyze the trade-offs step by step and compare three strategies, then "
                   "evaluate the architecture.\n1. latency\n2. cost\n3. risk\nFinally, derive a plan."}])
    assert raw.headers["x-airlock-tier"] == "public_cloud"
    assert raw.parse().choices[0].message.content == "Cloud says hello."
    headers = {k.lower(): v for k, v in state.requests[-1][1].items()}
    assert headers.get("authorization") == "Bearer sk-e2e-cloud"


def test_cloud_streaming_through_the_sdk(client):
    stream = client.chat.completions.create(
        model="frontier", stream=True, stream_options={"include_usage": True},
        messages=[{"role": "user", "content": "hi"}])
    chunks = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Cloud says hello."
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens == 8


def test_sensitive_data_never_reaches_the_cloud(client, cloud):
    _, state = cloud
    before = state.count("/chat/completions")
    raw = client.chat.completions.with_raw_response.create(
        model="cloud/gpt-4o", max_tokens=8,
        messages=[{"role": "user", "content": "My card is 4111 1111 1111 1111, email jane@example.com"}])
    assert raw.headers["x-airlock-tier"] == "local"
    assert raw.headers["x-airlock-backend"] == "llama"
    assert raw.headers["x-airlock-sensitivity"] in ("confidential", "restricted")
    assert state.count("/chat/completions") == before


def test_models_lists_auto_pools_and_models(client):
    ids = {m.id for m in client.models.list()}
    assert {"auto", "local", "frontier", "llama/smollm2-135m", "cloud/gpt-4o"} <= ids


def test_embeddings_default_encoding(client):
    # The SDK asks for base64 by default and decodes it.
    resp = client.embeddings.create(model="auto", input=["hello", "world"])
    assert len(resp.data) == 2
    assert resp.data[1].index == 1
    assert resp.data[0].embedding == pytest.approx([0.25, -0.5, 1.0])


def test_errors_surface_as_sdk_exceptions(client, gateway):
    with pytest.raises(openai.NotFoundError) as e:
        client.chat.completions.create(model="no-such-model", messages=[{"role": "user", "content": "x"}])
    assert e.value.code == "model_not_found"
    with pytest.raises(openai.PermissionDeniedError) as e:
        client.embeddings.create(model="cloud/text-embedding-3-small", input="jane@example.com")
    assert e.value.code == "sensitivity_policy_violation"
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model="auto", messages=[])
    assert e.value.code == "invalid_request"
    bad = openai.OpenAI(base_url=gateway, api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.models.list()


def test_broken_upstream_stream_raises_in_the_sdk(client, cloud):
    _, state = cloud
    state.cut_stream = True
    try:
        with pytest.raises(openai.APIError):
            for _ in client.chat.completions.create(
                    model="frontier", stream=True, messages=[{"role": "user", "content": "hi"}]):
                pass
    finally:
        state.cut_stream = False
