#!/usr/bin/env bash
# Boots the default guest image (scripts/guest-image.sh) under QEMU/TCG in a throwaway network
# namespace, waits for its "ready" line and pings it over IPv4 and IPv6. Root only; touches
# nothing outside its namespace. Usage: guest-image-smoke.sh [DIR] (default /var/lib/meshvpc/guest)
set -euo pipefail
dir=${1:-${MESHVPC_GUEST_DIR:-/var/lib/meshvpc/guest}}
[ -s "$dir/vmlinuz" ] && [ -s "$dir/initrd.img" ] || { echo "no guest image in $dir" >&2; exit 1; }
ns=meshvpc-smoke-$$
log=$(mktemp /tmp/meshvpc-guest-smoke.XXXXXX)
qpid=
cleanup() {
  local rc=$?
  set +e
  [ -n "$qpid" ] && kill "$qpid" 2>/dev/null && wait "$qpid" 2>/dev/null
  ip netns del "$ns" 2>/dev/null
  [ $rc -eq 0 ] || { echo "FAILED; qemu and guest console:" >&2; tail -n 20 "$log.qemu" "$log" >&2; }
  rm -f "$log" "$log.qemu"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ip netns add "$ns"
nx() { ip netns exec "$ns" "$@"; }
nx ip link set lo up
nx ip link add br0 type bridge
nx ip tuntap add dev tap0 mode tap
nx ip link set tap0 mtu 1450 master br0 up
nx ip link set br0 up
nx ip addr add 192.0.2.1/24 dev br0
nx ip addr add 2001:db8::1/64 dev br0 nodad

t0=$(date +%s.%N)
# ip netns exec execs qemu: $! is qemu's pid. No pipe of ours stays open in it.
ip netns exec "$ns" qemu-system-x86_64 -machine q35,accel=tcg -m 256 -smp 1 -nographic -nodefaults -no-reboot \
  -serial "file:$log" -kernel "$dir/vmlinuz" -initrd "$dir/initrd.img" \
  -append "console=ttyS0 quiet panic=-1 meshvpc.name=vm1 meshvpc.ip4=192.0.2.10/24 meshvpc.ip6=2001:db8::10/64 meshvpc.mtu=1450" \
  -netdev tap,id=n0,ifname=tap0,script=no,downscript=no -device virtio-net-pci,netdev=n0,mac=02:00:00:00:00:10 \
  </dev/null >"$log.qemu" 2>&1 &
qpid=$!
for _ in $(seq 1200); do
  grep -q '^meshvpc-guest vm1 ready' "$log" && break
  kill -0 "$qpid" 2>/dev/null || { echo "qemu exited" >&2; exit 1; }
  sleep 0.1
done
grep -q '^meshvpc-guest vm1 ready' "$log" || { echo "no ready line within 120 s" >&2; exit 1; }
echo "boot to ready: $(awk "BEGIN{printf \"%.1f\", $(date +%s.%N) - $t0}") s"
grep -a '^meshvpc-guest vm1 up:' "$log"
grep -q '^meshvpc-guest vm1 up: eth0 mtu 1450 ip4 192.0.2.10/24 ip6 2001:db8::10/64' "$log"
nx ping -c 3 -W 2 192.0.2.10
nx ping -6 -c 3 -W 2 2001:db8::10
echo "guest image smoke test passed ($(du -h "$dir/vmlinuz" | cut -f1) vmlinuz, $(du -h "$dir/initrd.img" | cut -f1) initrd.img)"
