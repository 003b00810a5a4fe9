"""Python Semantic Kernel against the same local endpoint as Miyagi's kernel (bench/sk-python.sh).

The same prompt function as crates/kernel/benches/kernel_overhead.rs (Semantic Kernel template
syntax, three variables) invoked through SK's kernel and its OpenAI connector, and as the
baseline the equivalent request sent with a bare httpx client. Calls are sequential, one at a
time, as the Rust bench makes them; the figure is the mean time per call.

    python compare.py http://127.0.0.1:18090/v1 [calls]
"""

import asyncio
import sys
import time

import httpx
from openai import AsyncOpenAI
from semantic_kernel import Kernel
from semantic_kernel.connectors.ai.open_ai import OpenAIChatCompletion
from semantic_kernel.functions import KernelArguments

TEMPLATE = (
    "You are {{$advisor}}. The client is {{$age}} years old with a {{$risk}} risk tolerance. "
    "In one sentence, how should they split stocks and bonds?"
)
PROMPT = (
    "You are Jack Bogle. The client is 40 years old with a Moderate risk tolerance. "
    "In one sentence, how should they split stocks and bonds?"
)


async def timed(label, calls, call):
    for _ in range(min(200, calls)):  # warm-up: connections, caches, lazy imports
        await call()
    started = time.perf_counter()
    for _ in range(calls):
        await call()
    per_call = (time.perf_counter() - started) / calls
    print(f"{label}: {per_call * 1e6:,.1f} µs per call ({calls} calls)")
    return per_call


async def main(base, calls):
    http = httpx.AsyncClient()
    body = {"model": "bench", "messages": [{"role": "user", "content": PROMPT}]}

    async def raw():
        answer = await http.post(f"{base}/chat/completions", json=body, headers={"authorization": "Bearer key"})
        assert isinstance(answer.json()["choices"][0]["message"]["content"], str)

    kernel = Kernel()
    kernel.add_service(
        OpenAIChatCompletion(ai_model_id="bench", async_client=AsyncOpenAI(api_key="key", base_url=base))
    )
    split = kernel.add_function(plugin_name="advisor", function_name="split", prompt=TEMPLATE)
    arguments = KernelArguments(advisor="Jack Bogle", age=40, risk="Moderate")

    async def invoke():
        answer = await kernel.invoke(split, arguments)
        assert "stocks" in str(answer)

    baseline = await timed("python raw_http (httpx)", calls, raw)
    through_sk = await timed("python sk_invoke (semantic-kernel)", calls, invoke)
    print(f"python SK overhead over its raw call: {(through_sk - baseline) * 1e6:,.1f} µs")
    await http.aclose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 2000))
