#!/usr/bin/env bash
# Build the dashboard SPA into web/dist (installing its locked node packages when needed).
# --check-client: first regenerate the typed API client from the app's OpenAPI and fail if
# the committed one differs (CI runs this; after changing routes run `npm run gen:api` in web/).
set -euo pipefail
cd "$(dirname "$0")/../web"
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    # `npm install` (which follows the lock file) rather than `npm ci`: vite lists a Windows-only
    # optional package the registry does not serve, so the lock cannot record it and `npm ci`
    # refuses the lock as out of sync; `npm install` skips the unavailable optional package.
    npm install --no-audit --no-fund --loglevel=error
fi
if [ "${1:-}" = "--check-client" ]; then
    npm run --silent gen:api
    if ! git diff --exit-code -- openapi.json src/api/schema.d.ts src/api/enums.ts; then
        echo "web/src/api/schema.d.ts or enums.ts is stale: run 'npm run gen:api' in web/ and commit the result" >&2
        exit 1
    fi
fi
npm run --silent build
