"""The test suite's fake Slack Web API in a process of its own, so it never competes with the load generator.

Prints its API URL on the first line of stdout and serves until stdin closes.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fake_slack import FakeSlack


def main() -> None:
    with FakeSlack(bot_token=sys.argv[1], team_id=sys.argv[2]) as fake:
        fake.add_user("U0001", name="dana", tz="America/New_York")
        print(fake.api_url, flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    main()
