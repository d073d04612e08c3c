#!/usr/bin/env bash
# Installs what `npm run bench` needs and is missing; idempotent and quick when all is there.
#   - Postfix (the anchor, with its smtp-source load generator), via the test-tools script,
#     which also installs the PostgreSQL client and keeps Postfix from starting system-wide.
#   - PostgreSQL itself is not installed here: the PostgreSQL runs are skipped (and say so)
#     when nothing answers at BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# Measure what `npm install` ships: the compiled dist/ (rebuilt when src/ changed).
node "$here/../scripts/build.ts"

if [[ -x /usr/sbin/postfix && -x /usr/sbin/smtp-source ]]; then
  exit 0
fi
if [[ "$(id -u)" != 0 ]]; then
  echo "bench/setup.sh: Postfix (smtp-source) is missing; run as root: bash bench/setup.sh" >&2
  exit 1
fi
bash "$here/../scripts/install-test-tools.sh"
