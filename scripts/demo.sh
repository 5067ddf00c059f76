#!/usr/bin/env bash
# The main job: a 3-host namespace lab that walks the CBSD VPC article end to end.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
exec meshvpc lab demo "$@"
