"""Drives the sidecar with the official MCP Python SDK (`mcp`, test/python/requirements.txt) and prints what it saw
as one JSON document on stdout, for test/integration/python-client.test.ts to assert on.

Usage: sdk_client.py URL MODE [CALLS [STEPS]]. MODE is the SDK's `mode`: "auto" (probe server/discover, fall back to
initialize), "legacy" (initialize) or a pinned revision ("2026-07-28"). CALLS: how many echo calls to make (default
1). STEPS: a comma-separated list of the steps to run (default all). Each step records its outcome or its error, so one failing step does not hide what the others did.
"""

import json
import sys
import traceback

import anyio
from mcp import types
from mcp.client import Client

URL, MODE = sys.argv[1], sys.argv[2]
CALLS = int(sys.argv[3]) if len(sys.argv) > 3 else 1
STEPS = sys.argv[4].split(",") if len(sys.argv) > 4 else None
# The one resource of server-everything that toggle-subscriber-updates reports changes of.
WATCHED = "demo://resource/dynamic/text/1"

report: dict = {"mode": MODE, "asked": []}


async def on_elicit(context, params):
    report["asked"].append("elicitation")
    # server-everything's form: every field it declares, answered.
    return types.ElicitResult(
        action="accept",
        content={
            "name": "Ada",
            "check": True,
            "color": "blue",
            "email": "ada@example.com",
            "integer": 3,
            "number": 1.5,
            "untitledSingleSelectEnum": "option1",
            "titledSingleSelectEnum": "value1",
            "legacyTitledEnum": "opt1",
            "untitledMultipleSelectEnum": ["option1"],
            "titledMultipleSelectEnum": ["value1"],
        },
    )


async def on_sample(context, params):
    report["asked"].append("sampling")
    return types.CreateMessageResult(
        role="assistant", content=types.TextContent(type="text", text="sampled by python"), model="python-test"
    )


def texts(result) -> list:
    return [c.text for c in result.content if getattr(c, "text", None) is not None]


async def step(name, body):
    if STEPS is not None and name not in STEPS:
        return
    try:
        report[name] = await body()
    except Exception as error:  # recorded, not raised: the test names the step that failed
        report[name] = {"error": f"{type(error).__name__}: {error}", "trace": traceback.format_exc()[-1500:]}


async def main():
    async with Client(URL, mode=MODE, elicitation_callback=on_elicit, sampling_callback=on_sample) as client:
        report["negotiated"] = client.protocol_version
        report["server"] = client.server_info.name if client.server_info else None

        async def tools():
            return sorted(t.name for t in (await client.list_tools()).tools)

        async def echo():
            replies = []
            for n in range(CALLS):
                replies.append(texts(await client.call_tool("echo", {"message": f"python {n}"}))[0])
            return replies

        async def unknown():
            result = await client.call_tool("no-such-tool", {})
            return {"isError": result.is_error, "text": texts(result)}

        async def read():
            listed = (await client.list_resources()).resources
            contents = (await client.read_resource(listed[0].uri)).contents
            return {"listed": len(listed), "uri": str(contents[0].uri)}

        async def elicitation():
            return texts(await client.call_tool("trigger-elicitation-request", {}))

        async def sampling():
            return texts(await client.call_tool("trigger-sampling-request", {"prompt": "hi", "maxTokens": 10}))

        async def progress():
            seen = []

            async def on_progress(value, total, message):
                seen.append([value, total])

            result = await client.call_tool(
                "trigger-long-running-operation", {"duration": 1, "steps": 3}, progress_callback=on_progress
            )
            return {"progress": seen, "text": texts(result)}

        async def listen():
            with anyio.fail_after(20):
                async with client.listen(tools_list_changed=True, resource_subscriptions=[WATCHED]) as subscription:
                    honored = subscription.honored.resource_subscriptions
                    await client.call_tool("toggle-subscriber-updates", {})
                    try:
                        async for event in subscription:
                            return {"honored": honored, "event": type(event).__name__, "uri": str(event.uri)}
                    finally:
                        await client.call_tool("toggle-subscriber-updates", {})

        await step("tools", tools)
        await step("echo", echo)
        await step("unknown", unknown)
        await step("read", read)
        await step("elicitation", elicitation)
        await step("sampling", sampling)
        await step("progress", progress)
        if MODE != "legacy":
            await step("listen", listen)


try:
    anyio.run(main)
except Exception as error:
    report["failed"] = f"{type(error).__name__}: {error}"
    report["trace"] = traceback.format_exc()[-3000:]
print(json.dumps(report))
