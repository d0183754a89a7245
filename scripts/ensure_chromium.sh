#!/bin/sh
# Install the system Chromium the browser tests drive (Playwright with executable_path=/usr/bin/chromium),
# and a font with Persian and Arabic glyphs. Idempotent: does nothing when both are there.
set -eu
if [ -x /usr/bin/chromium ] && fc-list :lang=fa 2>/dev/null | grep -q .; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "ensure_chromium: /usr/bin/chromium (or a Persian font) is missing; run as root: sh $0" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends chromium fonts-dejavu-core fontconfig
