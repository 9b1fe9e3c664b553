"""End to end: the official anthropic SDK against the built airlock binary's
Anthropic ingress (POST /v1/messages), which runs the same classification,
policy and tier filter as the OpenAI route and answers in Anthropic's format
from whichever backend served it: the real local model (llama.cpp serving
SmolLM2-135M, an OpenAI-protocol server) or the fake cloud. Text, streaming,
tool use round trip, images, sensitive tool results, errors."""

import anthropic
import pytest

WEATHER = [{"name": "get_weather", "description": "Weather for a city",
            "input_schema": {"type": "object", "properties": {"city": {"type": "string"}},
                             "required": ["city"]}}]

PNG = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8/5+hHgAHggJ/"
       "PchI7wAAAABJRU5ErkJggg==")


def test_text_from_the_real_local_model(claude, cloud):
    _, state = cloud
    before = state.count("/chat/completions")
    raw = claude.messages.with_raw_response.create(
        model="auto", max_tokens=16, system="You are terse.", extra_body={"temperature": 0},
        messages=[{"role": "user", "content": "Say hello. zebra-canary"}])
    assert raw.headers["x-airlock-backend"] == "llama"
    assert raw.headers["x-airlock-tier"] == "local"
    assert raw.headers["x-airlock-rule"] == "default"
    assert raw.headers["request-id"] == raw.headers["x-airlock-request-id"]
    message = raw.parse()
    assert message.type == "message" and message.role == "assistant"
    assert message.id == "msg_" + raw.headers["x-airlock-request-id"]
    assert message.content[0].type == "text" and message.content[0].text
    assert message.stop_reason in ("end_turn", "max_tokens")
    assert message.usage.input_tokens > 0 and message.usage.output_tokens > 0
    assert state.count("/chat/completions") == before


def test_streaming_from_the_real_local_model(claude):
    # llama-cpp-python 0.3.36 now and then takes a streamed request on a
    # reused connection for a client that left ("Disconnected from client"
    # in its log) and ends the answer at once, empty: try again then.
    for _ in range(3):
        with claude.messages.stream(
                model="local", max_tokens=16, extra_body={"temperature": 0},
                messages=[{"role": "user", "content": "Write one sentence about the sea."}]) as stream:
            pieces = list(stream.text_stream)
            final = stream.get_final_message()
        if final.usage.output_tokens > 0:
            break
    assert "".join(pieces).strip(), final
    assert len(pieces) > 1, "streamed in several deltas, not one"
    assert final.content[0].text == "".join(pieces)
    assert final.stop_reason in ("end_turn", "max_tokens")


def test_cloud_streaming_carries_usage(claude):
    with claude.messages.stream(
            model="frontier", max_tokens=50,
            messages=[{"role": "user", "content": "hi"}]) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "Cloud says hello."
    assert final.stop_reason == "end_turn"
    assert (final.usage.input_tokens, final.usage.output_tokens) == (5, 3)


def test_tool_use_round_trip(claude, cloud):
    _, state = cloud
    messages = [{"role": "user", "content": "What is the weather in Paris?"}]
    first = claude.messages.create(model="frontier", max_tokens=200, tools=WEATHER,
                                   messages=messages)
    assert first.stop_reason == "tool_use"
    call = next(b for b in first.content if b.type == "tool_use")
    assert (call.name, call.input) == ("get_weather", {"city": "Paris"})
    messages += [{"role": "assistant", "content": first.content},
                 {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id,
                                               "content": "18C and sunny"}]}]
    second = claude.messages.create(model="frontier", max_tokens=200, tools=WEATHER,
                                    messages=messages)
    assert second.content[0].text == "Tool said: 18C and sunny."
    assert second.stop_reason == "end_turn"
    # What the (OpenAI-protocol) cloud received: the call and its result.
    sent = state.last_post()[2]
    assert sent["messages"][1]["tool_calls"][0]["id"] == call.id
    assert sent["messages"][2] == {"role": "tool", "tool_call_id": call.id,
                                   "content": "18C and sunny"}
    assert sent["tools"][0]["function"]["name"] == "get_weather"


def test_streamed_tool_use(claude):
    with claude.messages.stream(
            model="frontier", max_tokens=200, tools=WEATHER,
            messages=[{"role": "user", "content": "What is the weather in Paris?"}]) as stream:
        final = stream.get_final_message()
    assert final.stop_reason == "tool_use"
    assert [b.type for b in final.content] == ["text", "tool_use"]
    assert final.content[0].text == "Let me check."
    assert (final.content[1].name, final.content[1].input) == ("get_weather", {"city": "Paris"})


def test_images(claude, cloud):
    _, state = cloud
    raw = claude.messages.with_raw_response.create(
        model="frontier", max_tokens=50,
        messages=[{"role": "user", "content": [
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
            {"type": "text", "text": "What is in this picture?"}]}])
    assert raw.headers["x-airlock-sensitivity"] == "internal"
    assert raw.parse().content[0].text == "I see 1 images."
    part = state.last_post()[2]["messages"][0]["content"][0]
    assert part == {"type": "image_url", "image_url": {"url": "data:image/png;base64," + PNG}}


def test_a_sensitive_tool_result_keeps_the_request_local(claude, cloud):
    _, state = cloud
    before = state.count("/chat/completions")
    raw = claude.messages.with_raw_response.create(
        model="frontier", max_tokens=8,
        messages=[
            {"role": "user", "content": "Look up the customer."},
            {"role": "assistant", "content": [
                {"type": "text", "text": "Looking it up."},
                {"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {"q": "customer"}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1",
                                          "content": "card 4111 1111 1111 1111, jane@example.com"}]}])
    assert raw.headers["x-airlock-tier"] == "local"
    assert raw.headers["x-airlock-backend"] == "llama"
    assert raw.headers["x-airlock-sensitivity"] in ("confidential", "restricted")
    assert raw.parse().type == "message"
    assert state.count("/chat/completions") == before


def test_count_tokens(claude):
    count = claude.messages.count_tokens(
        model="auto", messages=[{"role": "user", "content": "Hello there, how are you?"}])
    assert count.input_tokens == 7


def test_errors_surface_as_sdk_exceptions(claude, gateway):
    with pytest.raises(anthropic.NotFoundError) as e:
        claude.messages.create(model="no-such-model", max_tokens=5,
                               messages=[{"role": "user", "content": "x"}])
    assert e.value.body["error"]["type"] == "not_found_error"
    with pytest.raises(anthropic.BadRequestError) as e:
        # This SDK version no longer takes `temperature` as an argument.
        claude.messages.create(model="auto", max_tokens=5, extra_body={"temperature": 1.5},
                               messages=[{"role": "user", "content": "x"}])
    assert e.value.body["error"]["type"] == "invalid_request_error"
    assert "temperature" in e.value.body["error"]["message"]
    bad = anthropic.Anthropic(base_url=gateway.removesuffix("/v1"), api_key="wrong",
                              max_retries=0)
    with pytest.raises(anthropic.AuthenticationError) as e:
        bad.messages.create(model="auto", max_tokens=5,
                            messages=[{"role": "user", "content": "x"}])
    assert e.value.body["error"]["type"] == "authentication_error"


def test_broken_upstream_stream_raises_in_the_sdk(claude, cloud):
    _, state = cloud
    state.cut_stream = True
    try:
        with pytest.raises(anthropic.APIStatusError):
            with claude.messages.stream(model="frontier", max_tokens=50,
                                        messages=[{"role": "user", "content": "hi"}]) as stream:
                for _ in stream:
                    pass
    finally:
        state.cut_stream = False
