"""The baseline: a bare Bolt app whose `/partner` handler only acks, served exactly like Partner.

Same production server (waitress via `bot.server.serve_http`), same thread count, same Bolt settings that matter
on the ack path (signature verification on, `process_before_response=True`, no auth.test at start). What Partner
adds on top — routing, parsing, the database insert, its middleware and request logging — is what the ratio prices.

    python bench/baseline_app.py --port 3100 --threads 8
    python bench/baseline_app.py --port 3100 --threads 8 --bare   # imports nothing of Partner's (RSS reference)

`bot.server` imports `storage.store` (SQLAlchemy, SQLModel, Partner's models), so the default baseline's memory
includes them; `--bare` calls waitress's `create_server` with the same options itself, for the memory of Bolt alone.
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
    parser.add_argument("--bare", action="store_true", help="serve without importing any of Partner's modules")
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

    if args.bare:
        from waitress.server import create_server

        server = create_server(
            SlackRequestHandler(app),
            host="127.0.0.1",
            port=args.port,
            threads=args.threads,
            ident="partner",
            clear_untrusted_proxy_headers=True,
        )
    else:
        from bot.server import serve_http

        server = serve_http(SlackRequestHandler(app), host="127.0.0.1", port=args.port, threads=args.threads)
    print(f"baseline listening on {args.port}", flush=True)
    server.run()


if __name__ == "__main__":
    main()
