"""The official OpenAI Python client, unchanged, against Miyagi's /v1 (argv[1]).

Each step is a call an application makes; the script prints what came back as one JSON object
for the Rust test to check, and fails loudly (an exception) when the client itself refuses a
response.
"""

import json
import sys

from openai import APIStatusError, OpenAI


def report_refusals(hook=sys.excepthook):
    """A refused call exits with the server's problem document, not only its status."""

    def show(kind, error, trace):
        if isinstance(error, APIStatusError):
            sys.exit(f"{error.request.method} {error.request.url}: {error.status_code} {error.response.text}")
        hook(kind, error, trace)

    sys.excepthook = show


report_refusals()

client = OpenAI(base_url=sys.argv[1], api_key="unused-on-loopback")
chat_model, embedding_model = [m.id for m in client.models.list()]
question = [{"role": "user", "content": "What is an index fund? Answer in one sentence."}]

plain = client.chat.completions.create(model=chat_model, messages=question, max_tokens=24)

streamed = "".join(
    chunk.choices[0].delta.content or ""
    for chunk in client.chat.completions.create(
        model=chat_model, messages=question, max_tokens=24, stream=True
    )
    if chunk.choices
)

rating = client.chat.completions.create(
    model=chat_model,
    messages=[{"role": "user", "content": "Rate the idea of buying an index fund."}],
    max_tokens=60,
    temperature=0,
    response_format={
        "type": "json_schema",
        "json_schema": {
            "name": "rating",
            "schema": {
                "type": "object",
                "properties": {
                    "score": {"type": "integer", "minimum": 0, "maximum": 10},
                    "verdict": {"enum": ["good", "bad"]},
                },
                "required": ["score", "verdict"],
            },
        },
    },
)

# The client's default encoding is base64; it decodes the vectors itself.
embeddings = client.embeddings.create(
    model=embedding_model, input=["Diversify your portfolio.", "Spread your investments."]
)

with_tools = client.chat.completions.create(
    model=chat_model,
    messages=question,
    max_tokens=24,
    tools=[
        {
            "type": "function",
            "function": {
                "name": "quote",
                "description": "The latest price of a stock.",
                "parameters": {
                    "type": "object",
                    "properties": {"symbol": {"type": "string"}},
                    "required": ["symbol"],
                },
            },
        }
    ],
)

# An application's second round: the model's call and the tool's result sent back.
after_tool = client.chat.completions.create(
    model=chat_model,
    max_tokens=24,
    messages=[
        {"role": "user", "content": "What does MSFT trade at?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call-1",
                    "type": "function",
                    "function": {"name": "quote", "arguments": '{"symbol": "MSFT"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call-1", "content": "MSFT: 420.50 USD"},
    ],
)

print(
    json.dumps(
        {
            "models": [chat_model, embedding_model],
            "plain": plain.choices[0].message.content,
            "streamed": streamed,
            "rating": json.loads(rating.choices[0].message.content),
            "dimensions": [len(e.embedding) for e in embeddings.data],
            "withTools": with_tools.choices[0].message.content,
            "toolCalls": with_tools.choices[0].message.tool_calls,
            "afterTool": after_tool.choices[0].message.content,
        }
    )
)
