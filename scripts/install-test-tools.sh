#!/usr/bin/env bash
# Installs the Debian packages the sealpost test suite talks to (real Postfix, swaks,
# dkimverify, gpg, openssl, psql, the Knot DNS server, Chromium). Idempotent and noninteractive; needs
# root on Debian 12.
#
#   scripts/install-test-tools.sh          # install what is missing
#
# Postfix is installed with "No configuration" and is never started system-wide: the tests
# run private instances (test/helpers/postfix.ts) from their own temp config directory with
# `postfix -c DIR`. As root that needs no `alternate_config_directories` entry in
# /etc/postfix/main.cf (Postfix only enforces that list for non-root callers), so this
# script does not touch /etc/postfix at all. Likewise Knot DNS is never started
# system-wide: test/helpers/dns-server.ts runs private `knotd -c FILE` instances on loopback
# with their own config, zone and state under a temp dir; /etc/knot is left alone.
set -euo pipefail

# package -> a file it ships that the tests use (for the fast path).
declare -A PACKAGES=(
  [postfix]=/usr/sbin/postfix
  [swaks]=/usr/bin/swaks
  [libnet-ssleay-perl]=/usr/share/doc/libnet-ssleay-perl               # swaks --tls
  [libio-socket-inet6-perl]=/usr/share/doc/libio-socket-inet6-perl     # swaks to [::1]
  [python3-dkim]=/usr/bin/dkimverify                     # dkimpy: dkimverify, dkimsign
  [gnupg]=/usr/bin/gpg
  [openssl]=/usr/bin/openssl
  [ca-certificates]=/etc/ssl/certs/ca-certificates.crt
  [postgresql-client]=/usr/bin/psql
  [knot]=/usr/sbin/knotd                                 # knotd, knotc: test DNS server
  [chromium]=/usr/bin/chromium                           # the portal's browser tests (Playwright)
)

missing=()
for pkg in "${!PACKAGES[@]}"; do
  status="$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)"
  if [[ "$status" != "install ok installed" || ! -e "${PACKAGES[$pkg]}" ]]; then
    missing+=("$pkg")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "install-test-tools: all test tools present"
  exit 0
fi

if [[ "$(id -u)" != 0 ]]; then
  echo "install-test-tools: missing ${missing[*]}; run this script as root" >&2
  exit 1
fi

echo "install-test-tools: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive

# Keep maintainer scripts from starting a system-wide Postfix on port 25 (or Knot on port
# 53). An existing policy-rc.d (Docker images ship one) is put back exactly as it was.
policy=/usr/sbin/policy-rc.d
policy_backup=""
if [[ -e "$policy" ]]; then
  policy_backup="$(mktemp)"
  cp -p "$policy" "$policy_backup"
fi
restore_policy() {
  if [[ -n "$policy_backup" ]]; then
    cp -p "$policy_backup" "$policy"
    rm -f "$policy_backup"
  else
    rm -f "$policy"
  fi
}
trap restore_policy EXIT
printf '#!/bin/sh\n# install-test-tools.sh: do not start services\nexit 101\n' >"$policy"
chmod 0755 "$policy"

echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
echo "postfix postfix/mailname string postfix.test" | debconf-set-selections

apt_opts=(-y -q -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
# Fresh machines (and Docker images) have no package lists; stale lists make the install
# fail with 404s, so refresh and retry once in that case.
if ! compgen -G "/var/lib/apt/lists/*_Packages*" >/dev/null; then
  apt-get update -q
fi
if ! apt-get install "${apt_opts[@]}" --no-install-recommends "${missing[@]}"; then
  apt-get update -q
  apt-get install "${apt_opts[@]}" --no-install-recommends "${missing[@]}"
fi

echo "install-test-tools: done"
