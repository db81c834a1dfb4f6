#!/usr/bin/env bash
# Install what shopfloor-monitor needs on Debian: system packages when missing, then .venv.
# Used by `make test` and `make demo`; safe to run again (it only does what is missing).
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ] || need_apt+=(mosquitto)
command -v mosquitto_sub >/dev/null || need_apt+=(mosquitto-clients)
command -v influxd >/dev/null || [ -x /usr/sbin/influxd ] || need_apt+=(influxdb)
command -v influx >/dev/null || need_apt+=(influxdb-client)
command -v socat >/dev/null || need_apt+=(socat)
# Alerts (deploy/prometheus/): promtool tests the rules, amtool checks alertmanager.yml.
command -v promtool >/dev/null || need_apt+=(prometheus)
command -v amtool >/dev/null || need_apt+=(prometheus-alertmanager)
# WeasyPrint (the reports' PDF) loads pango through ctypes: the Debian libraries, not a wheel.
compgen -G '/usr/lib/*/libpango-1.0.so.0' >/dev/null || need_apt+=(libpango-1.0-0)
compgen -G '/usr/lib/*/libpangoft2-1.0.so.0' >/dev/null || need_apt+=(libpangoft2-1.0-0)
fc-list 2>/dev/null | grep -qi dejavu || need_apt+=(fonts-dejavu-core)
if [ "${SHOPFLOOR_BOOTSTRAP:-test}" = "test" ]; then
  command -v chromium >/dev/null || need_apt+=(chromium)
  command -v docker-compose >/dev/null || need_apt+=(docker-compose)
  command -v pdftoppm >/dev/null || need_apt+=(poppler-utils)  # PDF pages to PNG, to look at the reports
fi
python3 -c 'import venv, ensurepip' 2>/dev/null || need_apt+=(python3-venv)

if [ ${#need_apt[@]} -gt 0 ]; then
  echo "bootstrap: installing Debian packages: ${need_apt[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

extras="${SHOPFLOOR_EXTRAS:-test}"
hash="$(sha256sum pyproject.toml | cut -c1-16)"
stamp=".venv/.installed-${hash}-${extras}"
# [test] includes [all]: a venv set up for the tests also serves the demo.
if [ ! -f "$stamp" ] && ! { [ "$extras" = all ] && [ -f ".venv/.installed-${hash}-test" ]; }; then
  [ -x .venv/bin/python ] || python3 -m venv .venv
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -e ".[${extras}]"
  find .venv -maxdepth 1 -name '.installed-*' ! -name ".installed-${hash}-*" -delete
  touch "$stamp"
fi
