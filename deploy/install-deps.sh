#!/usr/bin/env bash
# Install what callhook needs to build, test and run its demo on Debian 12, with apt-get; idempotent.
# Installs only what is missing (and runs `apt-get update` only then); as root, or through sudo.
# With --test, also what the test suite uses (sanitizers, fuzzers, valgrind, clang-format 14, packaging, a
# browser, the benchmark's load generator, Apache with mod_fcgid).
set -euo pipefail

packages=(
	build-essential autoconf automake libtool pkg-config
	libfcgi-dev libjson-c-dev libpq-dev libssl-dev libinih-dev
	postgresql-15 postgresql-client-15
	nginx-light curl spawn-fcgi
	util-linux
)
if [ "${1:-}" = --test ]; then
	packages+=(
		clang libclang-rt-14-dev clang-format-14 valgrind python3 openssl git
		mandoc debhelper dpkg-dev fakeroot lintian systemd
		netcat-openbsd chromium wrk time sudo
		apache2 libapache2-mod-fcgid
	)
fi

installed() { # installed PACKAGE: dpkg has it fully installed
	[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ]
}

missing=()
for p in "${packages[@]}"; do
	case $p in
	# any nginx flavour will do: do not swap one that is there for nginx-light
	nginx-light) command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=("$p") ;;
	*) installed "$p" || missing+=("$p") ;;
	esac
done
[ ${#missing[@]} -gt 0 ] || exit 0

sudo=()
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null 2>&1 || {
		echo "install-deps: missing ${missing[*]}; run this as root or install sudo" >&2
		exit 1
	}
	sudo=(sudo)
fi

echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get -qq update >/dev/null
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -qq -y -o Dpkg::Use-Pty=0 \
	install --no-install-recommends "${missing[@]}" >/dev/null
