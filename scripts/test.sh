#!/usr/bin/env bash
# Install everything (Debian packages, .venv) and run the whole test suite, end-to-end tests on
# real test hosts included. Run as root on Debian 12. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install.sh
exec .venv/bin/pytest "$@"
