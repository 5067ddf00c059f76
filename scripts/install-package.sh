#!/usr/bin/env bash
# Installs this checkout's build (run `npm run build` first) as the global `meshvpc`: `npm pack`
# makes the package and npm installs that tarball, a copy with its own dependencies, so moving
# or deleting the checkout leaves `meshvpc` on PATH working. scripts/install-deps.sh runs this.
#
# MESHVPC_DEV_INSTALL=1 links the global `meshvpc` to this checkout instead (`npm install -g .`,
# a symlink): every `npm run build` is live at once, and the checkout must stay where it is.
# npm's own settings apply (npm_config_prefix=DIR installs under DIR instead of the global prefix).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${MESHVPC_DEV_INSTALL:-0}" = 1 ]; then
  npm install -g . --no-audit --no-fund >/dev/null
  echo "the global meshvpc is linked to this checkout ($PWD): keep it there"
  exit 0
fi

die() { echo "install-package: $*" >&2; exit 1; }
[ -s dist/bundle/meshvpc.cjs ] && [ -s dist/web/index.html ] || die "nothing built here: npm run build first"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
npm pack --ignore-scripts --silent --pack-destination "$tmp" >/dev/null
tgz=$(find "$tmp" -maxdepth 1 -name 'meshvpc-*.tgz' | head -n1)
[ -n "$tgz" ] || die "npm pack made no meshvpc-*.tgz"

# What the installed copy runs from (the bundled CLI, the console, the guest image recipe that its
# messages point at) must be in the package: package.json "files" decides.
listing=$(tar -tzf "$tgz")
for f in bin/meshvpc.js bin/package.json dist/bundle/meshvpc.cjs dist/web/index.html scripts/guest-image.sh package.json; do
  grep -qxF "package/$f" <<<"$listing" || die "$f is missing from the package (package.json \"files\")"
done

pkg="$(npm root -g)/meshvpc"
bin="$(npm prefix -g)/bin/meshvpc"
# npm pack is reproducible: the same build gives the same tarball, and nothing needs reinstalling.
stamp="$(sha256sum "$tgz" | cut -d' ' -f1) node=$(node --version)"
if [ ! -L "$pkg" ] && [ "$(cat "$pkg/.meshvpc-package" 2>/dev/null)" = "$stamp" ] &&
  [ "$(readlink -f "$bin")" = "$(readlink -f "$pkg")/bin/meshvpc.js" ] && "$bin" version >/dev/null 2>&1; then
  echo "meshvpc $("$bin" version) is installed in $pkg (up to date)"
  exit 0
fi

# Install scripts stay off (as package.json "allowScripts" has them for ssh2 and cpu-features,
# optional speed-ups); better-sqlite3's native addon is handled below.
npm install -g --no-audit --no-fund --prefer-offline --ignore-scripts "$tgz" >/dev/null
[ -d "$pkg" ] && [ ! -L "$pkg" ] || die "npm did not install a copy in $pkg"

# better-sqlite3's addon: the one `npm ci` just built here when the version is the same (the
# same Node runs both), else built for the installed copy (prebuilt download or node-gyp).
sqlite_ok() { node -e 'const D = require(process.argv[1]); new D(":memory:").prepare("select 1").get();' "$pkg/node_modules/better-sqlite3" 2>/dev/null; }
addon=node_modules/better-sqlite3/build/Release/better_sqlite3.node
version() { node -p 'require(process.argv[1]).version' "$1/node_modules/better-sqlite3/package.json" 2>/dev/null; }
if [ -s "$addon" ] && [ "$(version .)" = "$(version "$pkg")" ]; then
  mkdir -p "$(dirname "$pkg/$addon")"
  cp "$addon" "$pkg/$addon"
fi
if ! sqlite_ok; then
  (cd "$pkg" && npm rebuild better-sqlite3 --no-audit --no-fund >/dev/null)
  sqlite_ok || die "better-sqlite3 does not load in $pkg (npm rebuild better-sqlite3 failed?)"
fi

installed=$("$bin" version) || die "$bin does not run"
echo "$stamp" > "$pkg/.meshvpc-package"
echo "meshvpc $installed installed in $pkg (a copy: this checkout can move)"
onpath=$(command -v meshvpc || true)
if [ "$(readlink -f "$onpath")" != "$(readlink -f "$pkg")/bin/meshvpc.js" ]; then
  echo "install-package: note: \`meshvpc\` on PATH is ${onpath:-missing}, not $bin" >&2
fi
