#!/usr/bin/env bash
# Builds meshvpc's default VM guest image: a Debian cloud kernel (vmlinuz) and a busybox
# initramfs (initrd.img) whose /init brings eth0 up from the kernel command line
# (meshvpc.name= .ip4= .ip6= .gw4= .mtu=). Usage: guest-image.sh [DIR]
# (default $MESHVPC_GUEST_DIR, else /var/lib/meshvpc/guest).
#
# The kernel package is downloaded and unpacked into a temporary directory, never installed:
# installing it would change what this host boots. Only Debian packages are fetched.
# Needs apt-get, dpkg-deb, depmod/modinfo (kmod), cpio, gzip and busybox-static.
set -euo pipefail

out=${1:-${MESHVPC_GUEST_DIR:-/var/lib/meshvpc/guest}}
export PATH="$PATH:/usr/sbin:/sbin"   # depmod, modinfo
meta=linux-image-cloud-amd64
modules=(virtio_net virtio_pci)   # plus what they depend on (modinfo -F depends)
busybox=/bin/busybox
# The recipe's own hash goes in the stamp: a changed /init rebuilds the image.
recipe=$(sha256sum "${BASH_SOURCE[0]}" | cut -d' ' -f1)

die() { echo "guest-image: $*" >&2; exit 1; }
built() { [ -s "$out/vmlinuz" ] && [ -s "$out/initrd.img" ] && [ -s "$out/stamp" ]; }

# Quick exit: built by this recipe, and apt's package lists have not changed since (apt-cache
# alone can take seconds where apt keeps no binary cache, as in Debian's container images).
if built && [[ $(cat "$out/stamp") == *" recipe=$recipe" ]] &&
  [ -z "$(find /var/lib/apt/lists -maxdepth 1 -type f -newer "$out/stamp" 2>/dev/null | head -n1)" ]; then
  exit 0
fi

# The versioned kernel package behind the metapackage, and its version:
# "linux-image-6.1.0-NN-cloud-amd64 6.1.X-Y" (from "Depends: linux-image-... (= 6.1.X-Y)").
resolve() {
  apt-cache show --no-all-versions "$meta" 2>/dev/null |
    sed -n 's/^Depends:.*\(linux-image-[0-9][^ ,]*-cloud-amd64\) (= \([^ )]*\)).*$/\1 \2/p' | head -n1
}
dep=$(resolve)
if [ -z "$dep" ]; then
  apt-get update -qq >/dev/null 2>&1 || true   # a fresh machine has no package lists yet
  dep=$(resolve)
fi
if [ -z "$dep" ]; then
  if built; then
    echo "guest-image: cannot resolve $meta; keeping the existing image ($(cat "$out/stamp"))" >&2
    exit 0
  fi
  die "cannot resolve the kernel package behind $meta (apt-cache show $meta)"
fi
pkg=${dep% *} pkgver=${dep#* }
kver=${pkg#linux-image-}
stamp="kver=$kver version=$pkgver recipe=$recipe"
if built && [ "$(cat "$out/stamp")" = "$stamp" ]; then
  touch "$out/stamp"   # checked against the current lists: the quick exit holds again
  exit 0
fi

for t in apt-get dpkg-deb depmod modinfo cpio gzip; do
  command -v "$t" >/dev/null 2>&1 || die "$t is missing"
done
[ -x "$busybox" ] || die "$busybox is missing (Debian package busybox-static)"
if ldd "$busybox" >/dev/null 2>&1; then die "$busybox is dynamically linked: install busybox-static"; fi

tmp=$(mktemp -d /tmp/meshvpc-guest.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
chmod 755 "$tmp"
mkdir "$tmp/dl" "$tmp/kernel" "$tmp/root"
# apt-get download runs as the _apt user when it can write the directory.
chown _apt: "$tmp/dl" 2>/dev/null || true
echo "guest-image: downloading $pkg $pkgver (not installed: unpacked into $tmp)"
(cd "$tmp/dl" && apt-get download -q "$meta" "$pkg=$pkgver" >/dev/null) || die "apt-get download $pkg=$pkgver failed"
deb=$(ls "$tmp/dl/${pkg}"_*.deb 2>/dev/null | head -n1)
[ -n "$deb" ] || die "apt-get download left no ${pkg}_*.deb"
dpkg-deb -x "$deb" "$tmp/kernel"
kdir=$tmp/kernel
[ -f "$kdir/boot/vmlinuz-$kver" ] || die "$deb has no boot/vmlinuz-$kver"
[ -d "$kdir/lib/modules/$kver" ] || die "$deb has no lib/modules/$kver"
depmod -b "$kdir" "$kver"

# Modules in load order: each after what it depends on; built-in ones are skipped.
order=()
add_module() {
  local m=$1 d file
  for d in "${order[@]}"; do [ "$d" = "$m" ] && return 0; done
  file=$(modinfo -b "$kdir" -k "$kver" -n "$m" 2>/dev/null) || die "module $m not found in $pkg"
  case "$file" in (builtin*|"(builtin)"|"") return 0 ;; esac
  for d in $(modinfo -b "$kdir" -k "$kver" -F depends "$m" | tr ',' ' '); do add_module "$d"; done
  for d in "${order[@]}"; do [ "$d" = "$m" ] && return 0; done
  order+=("$m")
  case "$file" in
    (*.ko) cp "$file" "$tmp/root/lib/modules/$m.ko" ;;
    (*.ko.xz) xz -dc "$file" > "$tmp/root/lib/modules/$m.ko" ;;
    (*.ko.zst) zstd -qdc "$file" > "$tmp/root/lib/modules/$m.ko" ;;
    (*.ko.gz) gzip -dc "$file" > "$tmp/root/lib/modules/$m.ko" ;;
    (*) die "unexpected module file $file" ;;
  esac
}

r=$tmp/root
mkdir -p "$r"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,tmp,root,lib/modules}
for m in "${modules[@]}"; do add_module "$m"; done
printf '%s\n' "${order[@]}" > "$r/lib/modules/order"
cp "$busybox" "$r/bin/busybox"
for a in $("$busybox" --list-full); do
  [ -e "$r/$a" ] || ln -s /bin/busybox "$r/$a"
done
mknod -m 600 "$r/dev/console" c 5 1 2>/dev/null || true   # root only; /init reopens it anyway
echo 'root:x:0:0:root:/root:/bin/sh' > "$r/etc/passwd"
echo 'root:x:0:' > "$r/etc/group"

cat > "$r/init" <<'EOF'
#!/bin/sh
# meshvpc guest: network from the kernel command line, then a shell on the console.
export PATH=/sbin:/bin:/usr/sbin:/usr/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
exec 0</dev/console 1>/dev/console 2>&1
echo   # the firmware leaves the console mid-line: meshvpc-guest lines start their own
for m in $(cat /lib/modules/order); do
  insmod "/lib/modules/$m.ko" || echo "meshvpc-guest: insmod $m failed"
done
name=guest ip4= ip6= gw4= mtu=
for a in $(cat /proc/cmdline); do
  case "$a" in
    meshvpc.name=*) name=${a#*=} ;;
    meshvpc.ip4=*) ip4=${a#*=} ;;
    meshvpc.ip6=*) ip6=${a#*=} ;;
    meshvpc.gw4=*) gw4=${a#*=} ;;
    meshvpc.mtu=*) mtu=${a#*=} ;;
  esac
done
hostname "$name"
ip link set lo up
i=0
while [ ! -e /sys/class/net/eth0 ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
if [ -e /sys/class/net/eth0 ]; then
  # A value that does not take is reported and shown as "-" on the "up" line.
  fail() { echo "meshvpc-guest $name error: $*"; }
  [ -z "$mtu" ] || ip link set eth0 mtu "$mtu" || fail "mtu $mtu"
  # No duplicate address detection: the address answers at once (busybox ip has no "nodad").
  echo 0 > /proc/sys/net/ipv6/conf/eth0/accept_dad 2>/dev/null
  ip link set eth0 up
  [ -z "$ip4" ] || ip -4 addr add "$ip4" dev eth0 || { fail "ip4 $ip4"; ip4=; }
  [ -z "$ip6" ] || ip -6 addr add "$ip6" dev eth0 || { fail "ip6 $ip6"; ip6=; }
  [ -z "$gw4" ] || ip -4 route add default via "$gw4" dev eth0 || fail "gw4 $gw4"
  echo "meshvpc-guest $name up: eth0 mtu $(cat /sys/class/net/eth0/mtu) ip4 ${ip4:--} ip6 ${ip6:--}"
  i=0
  while [ "$(cat /sys/class/net/eth0/operstate)" != up ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
  echo "meshvpc-guest $name ready"
else
  echo "meshvpc-guest $name error: no eth0"
fi
# PID 1 must never exit (the kernel would panic). A shell on the console; when the console
# has no input (a log file) the shell ends at once, so wait before the next one.
while :; do
  t=$(date +%s)
  setsid cttyhack sh
  [ $(($(date +%s) - t)) -ge 2 ] || sleep 60
done
EOF
chmod 755 "$r/init"

mkdir -p "$out"
(cd "$r" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --reproducible --quiet) |
  gzip -9n > "$out/initrd.img.new"
cp "$kdir/boot/vmlinuz-$kver" "$out/vmlinuz.new"
chmod 644 "$out/initrd.img.new" "$out/vmlinuz.new"
mv -f "$out/vmlinuz.new" "$out/vmlinuz"
mv -f "$out/initrd.img.new" "$out/initrd.img"
echo "$stamp" > "$out/stamp"
echo "guest-image: $out/vmlinuz ($kver) and $out/initrd.img (modules: ${order[*]})"
