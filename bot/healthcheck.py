"""`python -m bot.healthcheck`: the image's HEALTHCHECK, asking the running bot's /readyz.

Docker runs it every interval inside the container, so it imports nothing but the
standard library (the bot's own modules would cost a second of CPU each time) and reads
the same HTTP_HOST / HTTP_PORT the bot listens on. Exit 0 when ready, 1 when not, with
the reason on one line (`docker inspect` shows it).
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request

TIMEOUT_SECONDS = 5.0
READY_PATH = "/readyz"


def main() -> int:
    port = os.environ.get("HTTP_PORT", "").strip()
    if not port:
        print("HTTP_PORT is not set, so the bot serves no health endpoint to ask.")
        return 1
    host = os.environ.get("HTTP_HOST", "").strip() or "127.0.0.1"
    if host in ("0.0.0.0", "::"):  # noqa: S104 - listening everywhere: loopback reaches it
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    url = f"http://{host}:{port}{READY_PATH}"
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as answer:
            print(answer.read(200).decode("utf-8", "replace").strip() or "ready")
            return 0
    except urllib.error.HTTPError as exc:
        print(f"not ready ({exc.code}): {exc.read(200).decode('utf-8', 'replace').strip()}")
    except (OSError, ValueError) as exc:
        print(f"no answer from {url}: {exc}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
