#!/bin/sh
# Prepares a node for the agent; run by the agent pod's init container (deploy/k8s/agent/
# daemonset.yaml) every time the pod starts, and safe to run again:
#
#   1. installs the CNI plugin into the host's CNI bin directory: the bundle (dist/cni/
#      infra-cni.cjs) with its interpreter line pointing at a copy of the image's node binary
#      (the container runtime execs the plugin on the host, which may have no Node.js of its own),
#      plus the delegate plugins it chains (host-local, tuning) when the host has none;
#   2. creates the TAP pool (bin/create-interfaces: persistent TAPs, kept when present);
#   3. creates the gateway namespace (`ip netns add`: a bind mount under /run/netns, which must
#      reach the host — hence this container's Bidirectional mount and privileges);
#   4. writes the CNI network list last: the kubelet reports the node's network ready once it is
#      there, so a pod is only ever sent to a plugin that is installed.
#
# Every file is written to a temporary name and renamed, so the runtime never execs half a
# plugin or reads half a network list. Settings come from the environment (the pod sets them
# from the node's ConfigMap); the defaults are the container's paths.
set -eu

INFRA_ROOT=${INFRA_ROOT:-/opt/infra-offload}
CNI_BIN_DIR=${CNI_BIN_DIR:-/host/opt/cni/bin}
CNI_NET_DIR=${CNI_NET_DIR:-/host/etc/cni/net.d}
HOST_CNI_BIN_DIR=${HOST_CNI_BIN_DIR:-/opt/cni/bin}
CNI_CONFLIST=${CNI_CONFLIST:-/etc/infra-offload/config/10-infra-offload.conflist}
CNI_BUNDLE=${CNI_BUNDLE:-$INFRA_ROOT/dist/cni/infra-cni.cjs}
CNI_DELEGATES=${CNI_DELEGATES:-host-local tuning}
CNI_PLUGINS_DIR=${CNI_PLUGINS_DIR:-/usr/lib/cni}
# The plugin's interpreter on the host; empty: install the image's node beside the plugin.
PLUGIN_INTERPRETER=${PLUGIN_INTERPRETER:-}
CREATE_INTERFACES=${CREATE_INTERFACES:-node $INFRA_ROOT/dist/bin/create-interfaces.js}
POOL_PREFIX=${POOL_PREFIX:-P4TAP_}
POOL_SIZE=${POOL_SIZE:-16}
POOL_NETNS=${POOL_NETNS:-}
GATEWAY_NETNS=${GATEWAY_NETNS:-infra-offload-gw}

log() { echo "install-node: $*"; }
fail() { echo "install-node: $*" >&2; exit 1; }

# install_file SRC DST MODE: copy, chmod, rename (atomic in DST's directory).
install_file() {
  tmp="$(dirname "$2")/.$(basename "$2").tmp.$$"
  cp "$1" "$tmp" && chmod "$3" "$tmp" && mv -f "$tmp" "$2" || { rm -f "$tmp"; fail "cannot install $2"; }
}

[ -r "$CNI_BUNDLE" ] || fail "no CNI plugin bundle at $CNI_BUNDLE (npm run build:cni makes it)"
[ -r "$CNI_CONFLIST" ] || fail "no CNI network list at $CNI_CONFLIST (the node's ConfigMap)"
head -n 1 "$CNI_BUNDLE" | grep -q '^#!' || fail "$CNI_BUNDLE does not start with an interpreter line"
mkdir -p "$CNI_BIN_DIR" "$CNI_NET_DIR"

# 1. The plugin and its interpreter.
if [ -z "$PLUGIN_INTERPRETER" ]; then
  node_bin=$(command -v node) || fail "node is not in this image"
  if ! cmp -s "$node_bin" "$CNI_BIN_DIR/infra-cni-node"; then
    install_file "$node_bin" "$CNI_BIN_DIR/infra-cni-node" 0755
    log "installed $HOST_CNI_BIN_DIR/infra-cni-node ($("$node_bin" --version))"
  fi
  PLUGIN_INTERPRETER="$HOST_CNI_BIN_DIR/infra-cni-node"
fi
staged="$CNI_BIN_DIR/.infra-cni.staged.$$"
{ printf '#!%s\n' "$PLUGIN_INTERPRETER"; tail -n +2 "$CNI_BUNDLE"; } >"$staged" || { rm -f "$staged"; fail "cannot write $staged"; }
install_file "$staged" "$CNI_BIN_DIR/infra-cni" 0755
rm -f "$staged"
log "installed $HOST_CNI_BIN_DIR/infra-cni (interpreter $PLUGIN_INTERPRETER)"
for p in $CNI_DELEGATES; do
  if [ -x "$CNI_BIN_DIR/$p" ]; then continue; fi
  [ -x "$CNI_PLUGINS_DIR/$p" ] || fail "the host has no CNI plugin $p and the image has none at $CNI_PLUGINS_DIR/$p"
  install_file "$CNI_PLUGINS_DIR/$p" "$CNI_BIN_DIR/$p" 0755
  log "installed $HOST_CNI_BIN_DIR/$p from the image"
done

# 2. The TAP pool.
if [ -n "$POOL_NETNS" ]; then
  $CREATE_INTERFACES --prefix "$POOL_PREFIX" --count "$POOL_SIZE" --netns "$POOL_NETNS"
else
  $CREATE_INTERFACES --prefix "$POOL_PREFIX" --count "$POOL_SIZE"
fi

# 3. The gateway namespace.
if [ -e "/run/netns/$GATEWAY_NETNS" ]; then
  log "gateway namespace $GATEWAY_NETNS exists"
else
  ip netns add "$GATEWAY_NETNS" || fail "cannot create the gateway namespace $GATEWAY_NETNS"
  log "created the gateway namespace $GATEWAY_NETNS"
fi

# 4. The network list, last.
install_file "$CNI_CONFLIST" "$CNI_NET_DIR/10-infra-offload.conflist" 0644
log "installed $CNI_NET_DIR/10-infra-offload.conflist"
