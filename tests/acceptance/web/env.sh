# Sourced by tests/acceptance/web/run and scripts/bench-web: installs chromium with apt-get when
# /usr/bin/chromium is missing, and makes the suite's venv ($venv, under <repo>/.test-env/web)
# from requirements.txt, reinstalling only when that file changes. Playwright never downloads a
# browser.
web_here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
web_repo="$(cd "$web_here/../../.." && pwd)"
if [[ ! -x /usr/bin/chromium ]]; then
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium
fi
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
venv="$web_repo/.test-env/web"
stamp="$venv/.requirements.sha256"
want="$(sha256sum "$web_here/requirements.txt" | cut -d' ' -f1)"
if [[ ! -x "$venv/bin/python" || ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
    python3 -m venv --clear "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$web_here/requirements.txt"
    echo "$want" > "$stamp"
fi
# websockets honours proxy variables; loopback must never go through one.
export NO_PROXY="127.0.0.1,localhost" no_proxy="127.0.0.1,localhost"
unset HTTP_PROXY HTTPS_PROXY ALL_PROXY http_proxy https_proxy all_proxy
