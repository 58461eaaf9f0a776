"""The test suite's fake Slack Web API in a process of its own, so it never competes with the load generator.

    python bench/fake_slack_server.py TOKEN TEAM [--channels N] [--post-interval 1.0] [--dump posts.json]

Prints its API URL on the first line of stdout and serves until stdin closes. `--channels` adds channels
C000001… with the bot in them; `--post-interval` turns on Slack's per-channel chat.postMessage limit (429 +
Retry-After); `--dump` writes every chat.postMessage answer (channel, arrival time, status, nudge ids from the
message metadata) as JSON when it stops.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fake_slack import FakeSlack


def channel_id(n: int) -> str:
    return f"C{n:06d}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("token")
    parser.add_argument("team")
    parser.add_argument("--channels", type=int, default=0)
    parser.add_argument("--post-interval", type=float, default=None)
    parser.add_argument("--dump", type=Path, default=None)
    args = parser.parse_args()
    with FakeSlack(bot_token=args.token, team_id=args.team) as fake:
        fake.add_user("U0001", name="dana", tz="America/New_York")
        for n in range(args.channels):
            fake.add_channel(channel_id(n), name=f"customer-{n}", members=["U0001"])
        fake.post_interval = args.post_interval
        print(fake.api_url, flush=True)
        sys.stdin.read()
        if args.dump is not None:
            posts = [
                {
                    "channel": str(call.params.get("channel")),
                    "at": call.at,
                    "status": call.status,
                    "ok": bool(call.response.get("ok")),
                    "nudge_ids": str(
                        ((call.params.get("metadata") or {}).get("event_payload") or {}).get("nudge_ids") or ""
                    ),
                }
                for call in fake.calls_to("chat.postMessage")
            ]
            args.dump.write_text(json.dumps(posts))


if __name__ == "__main__":
    main()
