#!/usr/bin/env python3
"""Per-model TTFT p90, live, from inferd's request lifecycle stream.

Written from docs/events/asyncapi.yaml alone, as an outside tool would: it follows the JetStream
stream INFERD_REQUESTS (subjects `<prefix>.v1.requests.<model>`) with an ordered consumer, decodes
each `inferd.v1.RequestEvent` (protobuf, or protobuf-JSON when Content-Type says so), and after every
completed request prints the TTFT p90 of that model over the last --window completions.

    python ttft_p90.py --nats nats://127.0.0.1:4222 [--from-start] [--json] [--max-events N]
"""

import argparse
import asyncio
import json
import math
import sys
from collections import defaultdict, deque

import nats
from google.protobuf import json_format
from nats.js.api import ConsumerConfig, DeliverPolicy

from inferd.v1 import requests_pb2

MESSAGE_TYPE = "inferd.v1.RequestEvent"


def p90(values):
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]


def decode(msg):
    headers = msg.headers or {}
    if headers.get("Inferd-Message-Type", MESSAGE_TYPE) != MESSAGE_TYPE:
        return None
    event = requests_pb2.RequestEvent()
    if headers.get("Content-Type") == "application/json":
        json_format.Parse(msg.data, event, ignore_unknown_fields=True)
    else:
        event.ParseFromString(msg.data)
    return event


async def follow(args):
    nc = await nats.connect(args.nats, name="python-ttft-p90")
    js = nc.jetstream()
    policy = DeliverPolicy.ALL if args.from_start else DeliverPolicy.NEW
    sub = await js.subscribe(
        f"{args.prefix}.v1.requests.*",
        ordered_consumer=True,
        config=ConsumerConfig(deliver_policy=policy),
    )
    windows = defaultdict(lambda: deque(maxlen=args.window))
    seen = 0
    try:
        async for msg in sub.messages:
            event = decode(msg)
            if event is None or event.phase != requests_pb2.REQUEST_PHASE_COMPLETED or event.ttft_seconds <= 0:
                continue
            window = windows[event.model]
            window.append(event.ttft_seconds)
            value = p90(window)
            if args.json:
                print(json.dumps({"model": event.model, "ttft_p90_ms": round(value * 1000, 3), "n": len(window)}))
            else:
                print(f"{event.model}  ttft p90 {value * 1000:8.1f} ms  over {len(window)} requests")
            sys.stdout.flush()
            seen += 1
            if args.max_events and seen >= args.max_events:
                break
    finally:
        await nc.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nats", default="nats://127.0.0.1:4222")
    parser.add_argument("--prefix", default="inferd", help="subject prefix of the installation")
    parser.add_argument("--window", type=int, default=100, help="completions per model in the p90")
    parser.add_argument("--from-start", action="store_true", help="replay what the stream retains first")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    parser.add_argument("--max-events", type=int, default=0, help="stop after N completions (0: never)")
    asyncio.run(follow(parser.parse_args()))


if __name__ == "__main__":
    main()
