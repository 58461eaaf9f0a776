"""The baseline: a bare Bolt app whose `/partner` handler only acks, served exactly like Partner.

Same production server (waitress via `bot.server.serve_http`), same thread count, same Bolt settings that matter
on the ack path (signature verification on, `process_before_response=True`, no auth.test at start). What Partner
adds on top — routing, parsing, the database insert, its middleware and request logging — is what the ratio prices.

    python bench/baseline_app.py --port 3100 --threads 8

`bot.server` imports nothing of Partner's database stack (tests/e2e/test_ops.py checks it), so the baseline's memory
is Bolt's, slack-sdk's and waitress's alone.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from slack_bolt import Ack, App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    app = App(
        signing_secret=os.environ["SLACK_SIGNING_SECRET"],
        client=WebClient(token=os.environ["SLACK_BOT_TOKEN"], base_url=os.environ["SLACK_API_URL"]),
        process_before_response=True,
        token_verification_enabled=False,
    )

    @app.command("/partner")
    def partner(ack: Ack) -> None:
        ack()

    from bot.server import serve_http

    server = serve_http(SlackRequestHandler(app), host="127.0.0.1", port=args.port, threads=args.threads)
    print(f"baseline listening on {args.port}", flush=True)
    server.run()


if __name__ == "__main__":
    main()
