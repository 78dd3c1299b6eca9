"""executor.charsetdefer: importing the executor (and with it requests) leaves charset_normalizer
unloaded; requests still guesses an encoding with it on demand, and importing its submodules or
names works as usual. Each case in a fresh interpreter (the stand-in is process-wide)."""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import json, sys
from reconciler.executor import podman_ssh  # imports requests, podman-py, urllib3
after_import = sorted(m for m in sys.modules if m.startswith("charset_normalizer"))
import requests
response = requests.models.Response()
response._content = "caf\\u00e9 na\\u00efve \\u00e9t\\u00e9".encode()
response.encoding = None
guessed = response.apparent_encoding
from charset_normalizer import from_bytes
import charset_normalizer.api
print(json.dumps({"after_import": after_import, "guessed": guessed, "text": response.text,
                  "best": from_bytes(b"hello").best().encoding,
                  "same": charset_normalizer.api.from_bytes is from_bytes,
                  "real": type(sys.modules["charset_normalizer"]).__name__}))
"""


def _run(code: str) -> dict[str, object]:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)  # fmt: skip
    found: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


def test_requests_loads_without_charset_normalizer_and_uses_it_on_demand() -> None:
    found = _run(PROBE)
    assert found["after_import"] == ["charset_normalizer"]  # the stand-in alone
    assert found["guessed"] == "utf-8"
    assert found["text"] == "café naïve été"
    assert found["best"] == "ascii"
    assert found["same"] is True
    assert found["real"] == "module"  # replaced by the real package once used


def test_nothing_is_deferred_once_requests_is_imported() -> None:
    found = _run("""
import json, sys
import requests
from reconciler.executor import charsetdefer
print(json.dumps({"installed": charsetdefer.install(),
                  "real": type(sys.modules["charset_normalizer"]).__name__}))
""")
    assert found == {"installed": False, "real": "module"}
