#!/usr/bin/env bash
# The README's test command: install what is missing, build, run the whole jest suite.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
printf '\033[1m==> Type-checking sources and tests (tsc)\033[0m\n'
npx tsc -p tsconfig.test.json
printf '\033[1m==> Running the test suite (jest)\033[0m\n'
exec npx jest --ci "$@"
