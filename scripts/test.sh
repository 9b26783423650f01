#!/usr/bin/env bash
# The README's test command: install what is missing, build, run the whole jest suite.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
printf '\033[1m==> Type-checking sources and tests (tsc)\033[0m\n'
npx tsc -p tsconfig.test.json
printf '\033[1m==> Running the test suite (jest)\033[0m\n'
# --forceExit: on 2 cores jest runs every test file in its own main process, one after the
# other; once (stop 13) that process stayed alive after the last test had passed (no thread stuck, no mount
# left), which neither half of the suite alone does: CI must not wait for it. See the closing note.
exec npx jest --ci --forceExit "$@"
