#!/bin/sh
# Installs the browser driver (puppeteer-core, pinned in
# tests/browser/package-lock.json) into tests/browser/node_modules. Never
# downloads a browser: the tests use Debian's chromium and firefox-esr.
#
# The registry is the one download every run makes (a CI run failed on a
# single connection reset while fetching one package), so packages already
# in npm's cache are used without asking the registry again, npm retries each
# fetch, and a failed install is tried again with a pause, up to four times.
set -eu
cd "$(dirname "$0")/browser"
attempt=1
until npm ci --no-audit --no-fund --loglevel=error --prefer-offline \
    --fetch-retries=5 --fetch-retry-mintimeout=2000 --fetch-retry-maxtimeout=30000; do
    if [ "$attempt" -ge 4 ]; then
        echo "npm ci failed $attempt times: the npm registry is not reachable from here." >&2
        exit 1
    fi
    pause=$((attempt * 15))
    echo "npm ci failed (attempt $attempt of 4); trying again in $pause s." >&2
    sleep "$pause"
    attempt=$((attempt + 1))
done
