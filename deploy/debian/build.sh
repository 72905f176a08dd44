#!/bin/sh
# Builds the callhook Debian package from a `make dist` tarball, as `make deb` does: unpacks the tarball in
# a temporary directory, makes its deploy/debian the debian/ directory (with the systemd units of
# deploy/systemd beside the other files), runs `dpkg-buildpackage -us -uc -b` there, and copies the
# .deb files, .buildinfo and .changes to OUTDIR.
#
# Usage: deploy/debian/build.sh TARBALL [OUTDIR]      (OUTDIR: the current directory by default)
# Needs: debhelper (13), dpkg-dev, and the Build-Depends of deploy/debian/control.
# Environment: CALLHOOK_KEEP_DEB_BUILD=1 keeps the temporary build directory (its path is printed).
set -eu

die() {
	printf 'build.sh: %s\n' "$*" >&2
	exit 1
}

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
	die "usage: build.sh TARBALL [OUTDIR]"
fi
tarball=$1
outdir=${2:-.}
[ -f "$tarball" ] || die "$tarball: no such file (run make dist first)"
[ -d "$outdir" ] || die "$outdir: no such directory"
for tool in dpkg-buildpackage dpkg-parsechangelog dh; do
	command -v "$tool" >/dev/null 2>&1 || die "$tool not found: apt-get install debhelper dpkg-dev"
done
tarball=$(cd "$(dirname "$tarball")" && pwd)/$(basename "$tarball")
outdir=$(cd "$outdir" && pwd)

name=$(basename "$tarball" .tar.gz)         # callhook-0.1.0
version=${name#callhook-}
[ "$name" != "$version" ] || die "$tarball: expected callhook-VERSION.tar.gz"

work=$(mktemp -d "${TMPDIR:-/tmp}/callhook-deb.XXXXXX")
if [ "${CALLHOOK_KEEP_DEB_BUILD:-0}" = 1 ]; then
	trap 'echo "build.sh: kept $work" >&2' EXIT
else
	trap 'rm -rf "$work"' EXIT
fi
trap 'exit 130' INT
trap 'exit 143' TERM

cp "$tarball" "$work/callhook_$version.orig.tar.gz"
tar -xzf "$tarball" -C "$work"
src=$work/$name
[ -d "$src/deploy/debian" ] || die "$tarball has no deploy/debian"
cp -R "$src/deploy/debian" "$src/debian"
rm -f "$src/debian/build.sh"
cp "$src/deploy/systemd/callhook.socket" "$src/deploy/systemd/callhook.service" "$src/debian/"
# dh_installsystemd --name=callhook-prune looks for debian/<package>.<name>.<unit type>.
cp "$src/deploy/systemd/callhook-prune.service" "$src/debian/callhook.callhook-prune.service"
cp "$src/deploy/systemd/callhook-prune.timer" "$src/debian/callhook.callhook-prune.timer"

# The package version is the configure.ac version plus the Debian revision of debian/changelog.
deb_version=$(dpkg-parsechangelog -l "$src/debian/changelog" -S Version)
[ "${deb_version%-*}" = "$version" ] ||
	die "debian/changelog says $deb_version but the tarball is version $version: add a changelog entry"

(cd "$src" && dpkg-buildpackage -us -uc -b)

set -- "$work"/*.deb
[ -f "$1" ] || die "dpkg-buildpackage made no .deb"
cp "$work"/*.deb "$work"/*.buildinfo "$work"/*.changes "$outdir/"
for f in "$work"/*.deb; do
	printf 'build.sh: built %s\n' "$outdir/$(basename "$f")"
done
