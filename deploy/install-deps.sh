#!/usr/bin/env bash
# Installs what Infra Offload needs on a Debian 12 + Node.js 20 machine, idempotently:
# npm dependencies (when package-lock.json changed), Debian packages (nats-server, iproute2),
# and the compiled JavaScript in dist/. Safe to run on every `npm start` / `npm test`.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '[install-deps] %s\n' "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }

# Node.js >= 20.19 (ESM require and the test runner need it).
node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)' \
  || die "Node.js >= 20.19 is required, found $(node --version 2>/dev/null || echo none)."

# Debian packages: command name -> package name.
need_pkgs=()
command -v nats-server >/dev/null 2>&1 || need_pkgs+=(nats-server)
command -v ip >/dev/null 2>&1 || need_pkgs+=(iproute2)
command -v openssl >/dev/null 2>&1 || need_pkgs+=(openssl)
[ -x /usr/lib/cni/host-local ] || need_pkgs+=(containernetworking-plugins)
command -v cc >/dev/null 2>&1 || need_pkgs+=(gcc libc6-dev)   # the TAP addon (p4/target/tap)
command -v ping >/dev/null 2>&1 || need_pkgs+=(iputils-ping)    # end-to-end proofs inside pods
command -v iperf3 >/dev/null 2>&1 || need_pkgs+=(iperf3)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    die "missing Debian packages: ${need_pkgs[*]}. Run as root, or: sudo apt-get install -y ${need_pkgs[*]}"
  fi
  command -v apt-get >/dev/null 2>&1 || die "missing ${need_pkgs[*]} and no apt-get to install them with"
  say "installing Debian packages: ${need_pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null || die "apt-get update failed; cannot install ${need_pkgs[*]}"
  apt-get install -y -qq "${need_pkgs[@]}" >/dev/null || die "apt-get install ${need_pkgs[*]} failed"
fi

# npm dependencies: reinstall only when the lock file is newer than the last install.
stamp=node_modules/.package-lock.json
if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ] || [ package.json -nt "$stamp" ]; then
  say "installing npm dependencies (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error >&2 || die "npm ci failed"
fi

# Compile TypeScript to dist/ (incremental enough for a project this size: a few seconds).
say "building (tsc)"
npx --no-install tsc -p tsconfig.build.json || die "TypeScript build failed"
node --import tsx p4/target/tap/build.ts || die "TAP addon build failed (needs cc and Node's headers; see the message above)"
