#!/usr/bin/env bash
# Installs what meshvpc, its tests and its lab need on a Debian machine (run as root).
set -euo pipefail
cd "$(dirname "$0")/.."

need_pkgs=()
have() { command -v "$1" >/dev/null 2>&1; }
have ip        || need_pkgs+=(iproute2)
have bridge    || need_pkgs+=(iproute2)
have sshd || [ -x /usr/sbin/sshd ] || need_pkgs+=(openssh-server)
have ssh-keygen || need_pkgs+=(openssh-client)
have ping      || need_pkgs+=(iputils-ping)
have iperf3    || need_pkgs+=(iperf3)
have openssl   || need_pkgs+=(openssl)
# The etcd control plane (cluster mode=init backend=etcd, etcd mode=run) and its tests.
have etcd      || need_pkgs+=(etcd-server)
have etcdctl   || need_pkgs+=(etcd-client)
have nsenter   || need_pkgs+=(util-linux)
have unshare   || need_pkgs+=(util-linux)
have nft       || need_pkgs+=(nftables)
have ps        || need_pkgs+=(procps)
[ -x /usr/bin/time ] || need_pkgs+=(time)   # GNU time: peak RSS in the benchmarks
[ -x /usr/bin/chromium ] || need_pkgs+=(chromium)   # the web console's browser test (playwright-core drives it)
have make      || need_pkgs+=(make)
have g++       || need_pkgs+=(g++)
have python3   || need_pkgs+=(python3)
have node      || need_pkgs+=(nodejs npm)
# VM guests: QEMU, and what scripts/guest-image.sh builds the default guest image with.
have qemu-system-x86_64 || need_pkgs+=(qemu-system-x86)
# A dynamic /bin/busybox (package busybox) cannot run alone in an initramfs.
{ [ -x /bin/busybox ] && ! ldd /bin/busybox >/dev/null 2>&1; } || need_pkgs+=(busybox-static)
have modinfo   || need_pkgs+=(kmod)
have cpio      || need_pkgs+=(cpio)
# The terminal UI draws with dialog; its e2e test drives it in tmux.
have dialog    || need_pkgs+=(dialog)
have tmux      || need_pkgs+=(tmux)
# encrypt=wireguard: wg configures the link; wireguard-go runs it where the kernel has no WireGuard.
have wg        || need_pkgs+=(wireguard-tools)
have wireguard-go || need_pkgs+=(wireguard-go)
# The encryption test captures the lab's underlay.
have tcpdump   || need_pkgs+=(tcpdump)
# `man meshvpc`, and the unit test that renders the page (man-db brings groff-base).
have man       || need_pkgs+=(man-db)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  echo "installing Debian packages: ${need_pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # policy-rc.d keeps the package from starting a system sshd: the lab runs its own.
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d
  apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
  rm -f /usr/sbin/policy-rc.d
  # Debian enables its own etcd.service (a single member on localhost): meshvpc runs its members
  # itself (meshvpc etcd mode=run / meshvpc-etcd.service), so the stock one stays off.
  if [[ " ${need_pkgs[*]} " == *" etcd-server "* ]] && [ -d /run/systemd/system ]; then
    systemctl disable --now etcd.service >/dev/null 2>&1 || true
  fi
fi

# The default VM guest image (a Debian cloud kernel, unpacked and never installed, and a busybox
# initramfs) in /var/lib/meshvpc/guest; a no-op when it is current. The VM tests need it.
bash scripts/guest-image.sh || { echo "building the VM guest image failed (scripts/guest-image.sh)" >&2; exit 1; }

major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 20 ]; then
  echo "meshvpc needs Node.js 20 or newer (found $(node --version))" >&2
  exit 1
fi

# npm packages (better-sqlite3 compiles from source when no prebuilt binary can be fetched).
if [ -f package-lock.json ]; then npm ci --no-audit --no-fund; else npm install --no-audit --no-fund; fi
npm run build
# Peers run `meshvpc remote` by name over SSH, so meshvpc must be on PATH: an installed copy of
# this build (npm pack, then npm install -g of the tarball), or with MESHVPC_DEV_INSTALL=1 a
# link to this checkout.
bash scripts/install-package.sh

# The manual page (written by the build from the command catalog) and the bash completion
# (loaded by bash-completion on first use; without it: source <(meshvpc completion bash)).
install -D -m 0644 dist/man/meshvpc.8 /usr/local/share/man/man8/meshvpc.8
if have mandb; then mandb -q /usr/local/share/man >/dev/null 2>&1 || true; fi
mkdir -p /usr/local/share/bash-completion/completions
node bin/meshvpc.js completion bash > /usr/local/share/bash-completion/completions/meshvpc
