#!/usr/bin/env bash
# The whole test suite: installs what it needs, builds, lints, then unit and e2e tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
npm run lint
# e2e tests build labs of network namespaces; they clean up after themselves even on failure.
node --test --test-concurrency=2 dist/test/unit/ dist/test/e2e/
