"""End to end through every wire protocol: the official openai and anthropic
SDKs against the built airlock binary, each request routed by name
(`backend/model`) to one of the provider fakes of tests/fakes/ (served by the
fake_providers example), which check what airlock sends as the real services
do (Anthropic's x-api-key and anthropic-version, Gemini's x-goog-api-key and
turn rules, Azure's api-key, api-version and deployment, Bedrock's SigV4
signature, Ollama's pulled models and base64 images) and answer as they do.
Per backend: text, streaming with usage, a tool call round trip (JSON and
streamed), an image, and errors mapped to the SDK's exceptions."""

import base64
import json

import anthropic
import openai
import pytest

# Each provider the gateway translates to, and the openai protocol passed through.
PROVIDERS = ["anthropic", "gemini", "azure", "bedrock", "ollama"]

TEXT = {
    "anthropic": "Hello from the fake Anthropic.",
    "gemini": "Hello from the fake Gemini.",
    "azure": "Hello from the fake Azure.",
    "bedrock": "Hello from the fake Bedrock.",
    "ollama": "Hi from ollama.",
    "openai": "Hello from the fake upstream.",
}

WEATHER = [{"type": "function", "function": {
    "name": "get_weather", "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                   "required": ["city"]}}}]

PNG_B64 = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8/5+hHgAHggJ/"
           "PchI7wAAAABJRU5ErkJggg==")
PNG = "data:image/png;base64," + PNG_B64

# What each fake says about one PNG.
IMAGE = {
    "anthropic": "I see 1 images.",
    "gemini": "I see 1 images.",
    "azure": "I see 1 images.",
    "bedrock": "I see a png image.",
    "ollama": "I see 1 images.",
}


def image_model(routed, backend):
    # On Ollama, llava:13b takes images (airlock's config declares it).
    return "ollama/llava:13b" if backend == "ollama" else routed(backend)


def user(text):
    return [{"role": "user", "content": text}]


@pytest.mark.parametrize("backend", PROVIDERS + ["openai"])
def test_text(pclient, routed, backend):
    raw = pclient.chat.completions.with_raw_response.create(
        model=routed(backend), messages=user("Say hello. zebra-canary"))
    assert raw.headers["x-airlock-backend"] == backend
    assert raw.headers["x-airlock-rule"] == "explicit"
    completion = raw.parse()
    assert completion.object == "chat.completion"
    assert completion.choices[0].message.role == "assistant"
    assert completion.choices[0].message.content == TEXT[backend]
    assert completion.choices[0].finish_reason == "stop"
    usage = completion.usage
    assert usage.prompt_tokens > 0 and usage.completion_tokens > 0
    assert usage.total_tokens >= usage.prompt_tokens + usage.completion_tokens


@pytest.mark.parametrize("backend", PROVIDERS + ["openai"])
def test_streaming_with_usage(pclient, routed, backend):
    raw = pclient.chat.completions.with_raw_response.create(
        model=routed(backend), stream=True, stream_options={"include_usage": True},
        messages=user("Say hello."))
    assert raw.headers["x-airlock-backend"] == backend
    assert raw.headers["content-type"].startswith("text/event-stream")
    chunks = list(raw.parse())
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == TEXT[backend]
    content_chunks = [c for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(content_chunks) > 1, "streamed in several chunks, not one"
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["stop"]
    # The usage chunk comes last, with no choices, and counts what the JSON answer counts.
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert all(c.usage is None for c in chunks[:-1])
    json_usage = pclient.chat.completions.create(model=routed(backend), messages=user("Say hello.")).usage
    assert chunks[-1].usage.prompt_tokens == json_usage.prompt_tokens
    assert chunks[-1].usage.completion_tokens == json_usage.completion_tokens
    assert chunks[-1].usage.total_tokens == json_usage.total_tokens


@pytest.mark.parametrize("backend", PROVIDERS)
def test_tool_call_round_trip(pclient, routed, backend):
    messages = user("What is the weather in Paris?")
    first = pclient.chat.completions.create(model=routed(backend), messages=messages, tools=WEATHER)
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert len(choice.message.tool_calls) == 1
    call = choice.message.tool_calls[0]
    assert call.type == "function" and call.id
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments)["city"] == "Paris"
    # The assistant turn goes back as the SDK gave it (Gemini's thought
    # signature included), then the tool's result.
    messages += [choice.message.model_dump(exclude_none=True),
                 {"role": "tool", "tool_call_id": call.id, "content": "18C"}]
    raw = pclient.chat.completions.with_raw_response.create(
        model=routed(backend), messages=messages, tools=WEATHER)
    assert raw.headers["x-airlock-backend"] == backend
    second = raw.parse().choices[0]
    assert second.finish_reason == "stop"
    assert not second.message.tool_calls
    assert "18C" in second.message.content


@pytest.mark.parametrize("backend", PROVIDERS)
def test_streamed_tool_call_then_answer(pclient, routed, backend):
    messages = user("What is the weather in Paris?")
    stream = pclient.chat.completions.create(
        model=routed(backend), messages=messages, tools=WEATHER, stream=True,
        stream_options={"include_usage": True})
    calls, finish, usage = {}, None, None
    for chunk in stream:
        usage = chunk.usage or usage
        for choice in chunk.choices:
            for tc in choice.delta.tool_calls or []:
                c = calls.setdefault(tc.index, {"id": "", "name": "", "arguments": ""})
                c["id"] += tc.id or ""
                c["name"] += (tc.function.name or "") if tc.function else ""
                c["arguments"] += (tc.function.arguments or "") if tc.function else ""
            finish = choice.finish_reason or finish
    assert finish == "tool_calls"
    assert list(calls) == [0]
    call = calls[0]
    assert call["id"] and call["name"] == "get_weather"
    assert json.loads(call["arguments"])["city"] == "Paris"
    assert usage is not None and usage.completion_tokens > 0
    messages += [{"role": "assistant", "content": None, "tool_calls": [
                     {"id": call["id"], "type": "function",
                      "function": {"name": call["name"], "arguments": call["arguments"]}}]},
                 {"role": "tool", "tool_call_id": call["id"], "content": "18C"}]
    stream = pclient.chat.completions.create(
        model=routed(backend), messages=messages, tools=WEATHER, stream=True)
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert "18C" in text


@pytest.mark.parametrize("backend", PROVIDERS)
def test_image(pclient, routed, backend):
    raw = pclient.chat.completions.with_raw_response.create(
        model=image_model(routed, backend), messages=[{"role": "user", "content": [
            {"type": "text", "text": "What is in this picture?"},
            {"type": "image_url", "image_url": {"url": PNG}}]}])
    assert raw.headers["x-airlock-backend"] == backend
    # Images cannot be scanned: the request carries the configured level.
    assert raw.headers["x-airlock-sensitivity"] == "internal"
    assert raw.parse().choices[0].message.content == IMAGE[backend]


def test_image_bytes_reach_ollama_as_plain_base64(pclient, routed):
    # Ollama takes `images` as bare base64 and answers 400 to anything else
    # (a data: URL included); the fake decodes what it gets.
    assert base64.b64decode(PNG_B64)[:4] == b"\x89PNG"
    stream = pclient.chat.completions.create(
        model=image_model(routed, "ollama"), stream=True, messages=[{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": PNG}},
            {"type": "image_url", "image_url": {"url": PNG}}]}])
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == "I see 2 images."


def test_anthropic_overloaded_is_a_server_error(pclient, routed):
    # 529 overloaded_error: retried, then 502 upstream_error.
    with pytest.raises(openai.InternalServerError) as e:
        pclient.chat.completions.create(model=routed("anthropic"), messages=user("OVERLOADED"))
    assert e.value.status_code == 502
    assert e.value.code == "upstream_error"
    assert e.value.response.headers["x-airlock-request-id"]


def test_gemini_blocked_prompt_is_a_content_filter(pclient, routed):
    # promptFeedback.blockReason: 400 content_filter, in JSON and when streaming.
    with pytest.raises(openai.BadRequestError) as e:
        pclient.chat.completions.create(model=routed("gemini"), messages=user("BLOCKME please"))
    assert e.value.code == "content_filter"
    with pytest.raises(openai.BadRequestError) as e:
        for _ in pclient.chat.completions.create(
                model=routed("gemini"), stream=True, messages=user("BLOCKME please")):
            pass
    assert e.value.code == "content_filter"


def test_azure_content_filter_and_rate_limit(pclient, routed):
    with pytest.raises(openai.BadRequestError) as e:
        pclient.chat.completions.create(model=routed("azure"), messages=user("BLOCKME now"))
    assert e.value.code == "content_filter"
    # 429 whose retry-after-ms (59.5 s) is above the wait airlock allows.
    with pytest.raises(openai.RateLimitError) as e:
        pclient.chat.completions.create(model=routed("azure"), messages=user("RATELIMIT now"))
    assert e.value.code == "rate_limit_exceeded"
    assert int(e.value.response.headers["retry-after"]) >= 59


def test_bedrock_throttling_validation_and_broken_stream(pclient, routed):
    with pytest.raises(openai.RateLimitError) as e:
        pclient.chat.completions.create(model=routed("bedrock"), messages=user("THROTTLE me"))
    assert e.value.code == "rate_limit_exceeded"
    # ValidationException is the caller's fault: relayed with its status.
    with pytest.raises(openai.BadRequestError) as e:
        pclient.chat.completions.create(model=routed("bedrock"), messages=user("INVALID input"))
    assert e.value.code == "upstream_rejected"
    # A throttlingException frame after the first text: the stream ends
    # with an error event, which the SDK raises.
    with pytest.raises(openai.APIError):
        for _ in pclient.chat.completions.create(
                model=routed("bedrock"), stream=True, messages=user("STREAMFAIL")):
            pass


def test_ollama_model_not_pulled_is_not_found(pclient):
    with pytest.raises(openai.NotFoundError) as e:
        pclient.chat.completions.create(model="ollama/mistral:7b", messages=user("hi"))
    assert e.value.code == "upstream_rejected"
    assert "not found" in e.value.message


# ---- the official anthropic SDK (/v1/messages), routed to each fake

@pytest.mark.parametrize("backend", PROVIDERS)
def test_anthropic_sdk_text(pclaude, routed, backend):
    raw = pclaude.messages.with_raw_response.create(
        model=routed(backend), max_tokens=64, system="You are terse.",
        messages=[{"role": "user", "content": "Say hello."}])
    assert raw.headers["x-airlock-backend"] == backend
    message = raw.parse()
    assert message.type == "message" and message.role == "assistant"
    assert [b.type for b in message.content] == ["text"]
    assert message.content[0].text == TEXT[backend]
    assert message.stop_reason == "end_turn"
    assert message.usage.input_tokens > 0 and message.usage.output_tokens > 0


@pytest.mark.parametrize("backend", PROVIDERS)
def test_anthropic_sdk_streaming(pclaude, routed, backend):
    with pclaude.messages.stream(
            model=routed(backend), max_tokens=64,
            messages=[{"role": "user", "content": "Say hello."}]) as stream:
        pieces = list(stream.text_stream)
        final = stream.get_final_message()
    assert "".join(pieces) == TEXT[backend]
    assert len(pieces) > 1, "streamed in several deltas, not one"
    assert final.content[0].text == TEXT[backend]
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens > 0


@pytest.mark.parametrize("backend", ["gemini", "bedrock"])
def test_anthropic_sdk_tool_use_round_trip(pclaude, routed, backend):
    tools = [{"name": "get_weather", "description": "Weather for a city",
              "input_schema": WEATHER[0]["function"]["parameters"]}]
    messages = [{"role": "user", "content": "What is the weather in Paris?"}]
    first = pclaude.messages.create(model=routed(backend), max_tokens=64, tools=tools,
                                    messages=messages)
    assert first.stop_reason == "tool_use"
    use = next(b for b in first.content if b.type == "tool_use")
    assert use.name == "get_weather" and use.input["city"] == "Paris"
    messages += [{"role": "assistant", "content": [b.model_dump() for b in first.content]},
                 {"role": "user", "content": [
                     {"type": "tool_result", "tool_use_id": use.id, "content": "18C"}]}]
    second = pclaude.messages.create(model=routed(backend), max_tokens=64, tools=tools,
                                     messages=messages)
    assert second.stop_reason == "end_turn"
    assert "18C" in second.content[0].text


def test_anthropic_sdk_errors(pclaude, routed):
    with pytest.raises(anthropic.RateLimitError):
        pclaude.messages.create(model=routed("bedrock"), max_tokens=16,
                                messages=[{"role": "user", "content": "THROTTLE me"}])
    with pytest.raises(anthropic.BadRequestError):
        pclaude.messages.create(model=routed("gemini"), max_tokens=16,
                                messages=[{"role": "user", "content": "BLOCKME please"}])
