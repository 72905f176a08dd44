#!/usr/bin/env bash
# shellcheck disable=SC2016,SC2317  # ok takes code in single quotes; traps and wait_until call functions
# The Debian package, end to end: build the .deb with deploy/debian/build.sh (what `make deb` runs) from a
# `make dist` tarball, lint it, install it, check what it installed, run the INSTALLED binary as the user
# callhook behind a real nginx that includes the INSTALLED snippet, with a throwaway PostgreSQL cluster, post
# one Call Tracker webhook, then purge the package and check what is left. Prints TAP.
#
# Needs root (it runs dpkg -i and apt-get purge on this machine; without root it skips), and a configured
# build tree: CALLHOOK_BUILDDIR (default: the repository). The package must not be installed beforehand;
# the EXIT trap purges it again if the test stops half-way. CALLHOOK_KEEP_TMP=1 keeps the temp directory.
set -euo pipefail
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"

if [ "$IS_ROOT" != 1 ]; then
	echo "ok 1 - # skip package.sh needs root (it installs and purges the package)"
	echo "1..1"
	exit 0
fi

# One package test at a time on a machine: they install and purge the same package.
exec 9>/tmp/callhook-package-test.lock
flock -w 900 9 || { echo "not ok 1 - another package.sh still runs after 900 s"; echo "1..1"; exit 1; }

B=${CALLHOOK_BUILDDIR:-$REPO}
SMOKE_TOKEN=smoke-token
BODY='{"type":"call.received","object":"call","data":{"id":1,"status":"ringing","caller_number":"+18558871739"},"timestamp":"2019-03-09T09:09:52.010"}'
PKG_INSTALLED=0

setup_tmp
# On any exit: stop what runs (lib.sh's _cleanup, by pid), and purge the package if this test installed it.
_pkg_cleanup() {
	local rc=$?
	stop_all
	if [ "$PKG_INSTALLED" = 1 ] && dpkg-query -W -f='${Status}' callhook 2>/dev/null | grep -q installed; then
		diag "purging callhook left installed"
		timeout 300 env DEBIAN_FRONTEND=noninteractive apt-get purge -y -q callhook >/dev/null 2>&1 || true
	fi
	(exit "$rc")
	_cleanup
}
trap _pkg_cleanup EXIT

for tool in dpkg-buildpackage dh lintian mandoc nginx curl psql setpriv "$PG_BIN/initdb"; do
	command -v "$tool" >/dev/null 2>&1 || bail_out "$tool is installed (deploy/install-deps.sh)"
done
if dpkg-query -W -f='${Status}' callhook 2>/dev/null | grep -q 'ok installed'; then
	bail_out "callhook is not installed before the test (it would be purged): apt-get purge callhook"
fi
if [ ! -f "$B/Makefile" ] || [ ! -f "$B/config.h" ]; then
	bail_out "$B is a configured build tree (run ./configure)"
fi
VERSION=$(sed -n 's/^#define PACKAGE_VERSION "\(.*\)"$/\1/p' "$B/config.h")

# --- build and lint -----------------------------------------------------------------------------------

mkdir -p "$T/deb"
if timeout 300 make -C "$B" dist >"$T/dist.log" 2>&1; then
	_tap ok "make dist makes callhook-$VERSION.tar.gz"
else
	diag "$(tail -n 20 "$T/dist.log")"
	bail_out "make dist makes callhook-$VERSION.tar.gz"
fi
if timeout 900 sh "$REPO/deploy/debian/build.sh" "$B/callhook-$VERSION.tar.gz" "$T/deb" >"$T/build.log" 2>&1; then
	_tap ok "deploy/debian/build.sh builds the package"
else
	diag "$(tail -n 30 "$T/build.log")"
	bail_out "deploy/debian/build.sh builds the package"
fi
DEB=$T/deb/callhook_${VERSION}-1_$(dpkg --print-architecture).deb
ok '[ -f "$DEB" ]' "the package is callhook_${VERSION}-1"
[ -f "$DEB" ] || bail_out "found $DEB"

lint=$(timeout 300 lintian "$DEB" 2>"$T/lintian.err") || true
diag "lintian: ${lint:-(no output)}"
unlike "$lint" '^[EW]: ' "lintian reports no error and no warning"

# --- install ------------------------------------------------------------------------------------------

PKG_INSTALLED=1
if ! DEBIAN_FRONTEND=noninteractive timeout 300 dpkg -i "$DEB" >"$T/install.log" 2>&1; then
	DEBIAN_FRONTEND=noninteractive timeout 600 apt-get -f install -y -q >>"$T/install.log" 2>&1 || true
fi
status=$(dpkg-query -W -f='${Status}' callhook 2>/dev/null) || true
is "$status" "install ok installed" "dpkg -i installs callhook"
[ "$status" = "install ok installed" ] || { diag "$(tail -n 30 "$T/install.log")"; bail_out "callhook installed"; }

is "$(/usr/sbin/callhook --version)" "callhook $VERSION" "/usr/sbin/callhook --version"
for f in /usr/share/man/man8/callhook.8.gz /usr/share/man/man5/callhook.conf.5.gz \
	/usr/share/callhook/sql/001_schema.sql /usr/share/doc/callhook/examples/apache/callhook.conf \
	/usr/share/doc/callhook/examples/apache/callhook-fcgid.conf /usr/share/doc/callhook/copyright; do
	ok '[ -s "$f" ]' "installed $f"
done
ok 'zcat /usr/share/man/man8/callhook.8.gz | mandoc -Tlint -W warning >/dev/null 2>&1' \
	"the installed callhook(8) renders without warnings"
units=$(dpkg -L callhook | grep -E '/systemd/system/callhook\.(socket|service)$' | sort | tr '\n' ' ')
like "$units" '/callhook\.service /.*/callhook\.socket $' "callhook.service and callhook.socket installed"
ok 'cmp -s /lib/systemd/system/callhook.service "$REPO/deploy/systemd/callhook.service"' \
	"the installed service is deploy/systemd/callhook.service"
ok '[ -L /etc/systemd/system/sockets.target.wants/callhook.socket ]' "callhook.socket is enabled"
ok '[ ! -e /etc/systemd/system/multi-user.target.wants/callhook.service ]' \
	"callhook.service is not enabled by itself (socket activation)"
ok 'cmp -s /lib/systemd/system/callhook-prune.timer "$REPO/deploy/systemd/callhook-prune.timer"' \
	"the prune timer is installed as deploy/systemd/callhook-prune.timer"
ok 'cmp -s /lib/systemd/system/callhook-prune.service "$REPO/deploy/systemd/callhook-prune.service"' \
	"the prune service is installed as deploy/systemd/callhook-prune.service"
ok '[ ! -e /etc/systemd/system/timers.target.wants/callhook-prune.timer ]' \
	"callhook-prune.timer is not enabled (retention removes data: the operator enables it)"
ok 'cmp -s /etc/nginx/snippets/callhook.conf "$REPO/deploy/nginx/callhook.conf"' \
	"nginx snippet installed as /etc/nginx/snippets/callhook.conf"
ok 'cmp -s /etc/nginx/conf.d/callhook-upstream.conf "$REPO/deploy/nginx/callhook-upstream.conf"' \
	"nginx upstream installed as /etc/nginx/conf.d/callhook-upstream.conf"
is "$(sort /var/lib/dpkg/info/callhook.conffiles | tr '\n' ' ')" \
	"/etc/callhook/callhook.conf /etc/nginx/conf.d/callhook-upstream.conf /etc/nginx/snippets/callhook.conf " \
	"the configuration files are conffiles"
user=$(getent passwd callhook) || user=
like "$user" '^callhook:x:[0-9]+:[0-9]+:[^:]*:/nonexistent:/usr/s?bin/nologin$' \
	"system user callhook exists, no home, no shell"
uid=$(id -u callhook 2>/dev/null) || uid=99999
ok '[ "$uid" -lt 1000 ]' "callhook is a system user (uid $uid)"
is "$(stat -c '%a %U:%G' /etc/callhook/callhook.conf 2>&1)" "640 root:callhook" \
	"/etc/callhook/callhook.conf is 0640 root:callhook"
is "$(stat -c '%a %U:%G' /var/spool/callhook 2>&1)" "750 callhook:callhook" \
	"/var/spool/callhook is 0750 callhook:callhook"
ok 'setpriv --reuid=callhook --regid=callhook --clear-groups -- cat /etc/callhook/callhook.conf >/dev/null' \
	"user callhook can read the configuration"
ok '! setpriv --reuid=nobody --regid=nogroup --clear-groups -- cat /etc/callhook/callhook.conf >/dev/null 2>&1' \
	"other users cannot read the configuration"
# `check` with the shipped configuration: no problem in the file (none names a line); no database here.
out=$(cd / && setpriv --reuid=callhook --regid=callhook --clear-groups -- \
	env PGCONNECT_TIMEOUT=2 /usr/sbin/callhook check 2>&1) || true
unlike "$out" 'callhook\.conf(:[0-9]+: |: cannot)' "the shipped /etc/callhook/callhook.conf has no problems"
out=$(/usr/sbin/callhook -s "unix:$T/root.sock" serve 2>&1) && rc=0 || rc=$?
is "$rc" 2 "callhook serve refuses to run as root"

# The installed nginx files parse together (the socket need not exist for nginx -t).
mkdir -p "$T/nginx-t"
cat >"$T/nginx-t/nginx.conf" <<EOF
pid $T/nginx-t/nginx.pid;
error_log $T/nginx-t/error.log;
events {}
http {
    include /etc/nginx/conf.d/callhook-upstream.conf;
    server { listen 127.0.0.1:1; location /hooks/ { include /etc/nginx/snippets/callhook.conf; } }
}
EOF
cp /etc/nginx/fastcgi_params "$T/nginx-t/"
nginx -t -q -p "$T/nginx-t/" -c "$T/nginx-t/nginx.conf" -e "$T/nginx-t/error.log" >"$T/nginx-t/out" 2>&1 &&
	rc=0 || rc=$?
is "$rc" 0 "nginx -t accepts the installed snippet and upstream"
[ "$rc" = 0 ] || diag "$(cat "$T/nginx-t/out")"

# The installed Apache examples parse, each in a virtual host, with the modules their comments enable
# (Debian's apache2ctl, its envvars, this config instead of /etc/apache2/apache2.conf).
if [ -x /usr/sbin/apache2ctl ]; then
	mkdir -p "$T/apache-t"
	{
		for m in mpm_event authz_core authz_host alias setenvif proxy proxy_fcgi fcgid; do
			echo "Include /etc/apache2/mods-available/$m.load"
		done
		echo "Include /etc/apache2/mods-available/fcgid.conf"
		echo "ServerName localhost"
		echo "ErrorLog \${APACHE_LOG_DIR}/error.log"
		echo "Listen 127.0.0.1:1"
		echo "Listen 127.0.0.1:2"
		echo "<VirtualHost 127.0.0.1:1>"
		echo "    Include /usr/share/doc/callhook/examples/apache/callhook.conf"
		echo "</VirtualHost>"
		echo "<VirtualHost 127.0.0.1:2>"
		echo "    Include /usr/share/doc/callhook/examples/apache/callhook-fcgid.conf"
		echo "</VirtualHost>"
	} >"$T/apache-t/httpd.conf"
	APACHE_ARGUMENTS="-f $T/apache-t/httpd.conf" apache2ctl -t >"$T/apache-t/out" 2>&1 && rc=0 || rc=$?
	is "$rc" 0 "apache2ctl -t accepts the installed mod_proxy_fcgi and mod_fcgid examples"
	[ "$rc" = 0 ] || diag "$(cat "$T/apache-t/out")"
else
	echo "ok $((TAP_N += 1)) - # skip apache2ctl is not installed (deploy/install-deps.sh --test)"
fi

# --- end to end with the installed binary --------------------------------------------------------------

S=$T/smoke
install -d -o callhook -g callhook -m 0750 "$S" "$S/spool"
pg_start || bail_out "PostgreSQL starts in $T/pg"
cat >"$S/callhook.conf" <<EOF
[database]
conninfo = host=$T/pg dbname=callhook user=smoke_w
migrate_conninfo = host=$T/pg dbname=callhook user=postgres

[server]
spool_dir = $S/spool

[source smoke]
vendor = calltracker
token = $SMOKE_TOKEN
EOF
chown root:callhook "$S/callhook.conf"
chmod 0640 "$S/callhook.conf"
as_callhook() { (cd "$S" && exec setpriv --reuid=callhook --regid=callhook --clear-groups -- "$@"); }

as_callhook /usr/sbin/callhook -c "$S/callhook.conf" migrate >"$T/migrate.log" 2>&1 && rc=0 || rc=$?
is "$rc" 0 "installed callhook migrates a new database (as user callhook, migrate_conninfo superuser)"
[ "$rc" = 0 ] || diag "$(tail -n 20 "$T/migrate.log")"
ok '_psql callhook -c "create role smoke_w login in role callhook_writer" >/dev/null' \
	"a login role in callhook_writer for serve"

(cd "$S" && exec setpriv --reuid=callhook --regid=callhook --clear-groups -- \
	/usr/sbin/callhook -c "$S/callhook.conf" serve -s "unix:$S/callhook.sock" -w 2 \
	</dev/null >>"$T/callhook.log" 2>&1) &
CALLHOOK_PID=$!
_smoke_up() {
	pid_alive "$CALLHOOK_PID" || return 2
	[ -S "$S/callhook.sock" ]
}
wait_until "$WAIT_S" _smoke_up || bail_out "installed callhook serves on $S/callhook.sock as user callhook"
is "$(stat -c '%U' "/proc/$CALLHOOK_PID" 2>&1)" callhook "callhook serve runs as user callhook"

# nginx: workers as www-data in group callhook (like SocketGroup= in production), the installed snippet.
N=$T/nginx
mkdir -p "$N/tmp"
cp /etc/nginx/fastcgi_params "$N/fastcgi_params"
for _ in 1 2 3 4 5; do
	NGINX_PORT=$((20000 + RANDOM % 40000))
	_port_free "$NGINX_PORT" && break
done
cat >"$N/nginx.conf" <<EOF
user www-data callhook;
daemon off;
worker_processes 1;
pid $N/nginx.pid;
error_log $N/error.log warn;
events { worker_connections 64; }
http {
    client_body_temp_path $N/tmp/body;
    fastcgi_temp_path $N/tmp/fastcgi;
    proxy_temp_path $N/tmp/proxy;
    scgi_temp_path $N/tmp/scgi;
    uwsgi_temp_path $N/tmp/uwsgi;
    upstream callhook { server unix:$S/callhook.sock; }
    server {
        listen 127.0.0.1:$NGINX_PORT;
        location /hooks/ { include /etc/nginx/snippets/callhook.conf; }
    }
}
EOF
nginx -p "$N/" -c "$N/nginx.conf" -e "$N/error.log" </dev/null >"$N/nginx.out" 2>&1 &
NGINX_PID=$!
wait_until "$WAIT_S" _nginx_up || bail_out "nginx with the installed snippet starts on 127.0.0.1:$NGINX_PORT"

post POST "/hooks/smoke?token=$SMOKE_TOKEN" -H 'Content-Type: application/json' --data-binary "$BODY"
is "$HTTP_STATUS" 200 "Call Tracker webhook through nginx: 200"
like "$RESP_BODY" '^\{"status":"stored","delivery":[0-9]+\}$' "answer is {\"status\":\"stored\",…}"
is "$(sql "select source, external_id, status, caller_number from calls")" "smoke|1|ringing|+18558871739" \
	"the call is in callhook.calls"
is "$(sql "select source, vendor, outcome from deliveries")" "smoke|calltracker|stored" \
	"the raw delivery is in callhook.deliveries"
post POST "/hooks/smoke?token=wrong" -H 'Content-Type: application/json' --data-binary "$BODY"
is "$HTTP_STATUS" 401 "a wrong token gets 401"
post GET "/hooks/-/health"
is "$HTTP_STATUS" 200 "health check from 127.0.0.1: 200"

ok 'callhook_stop' "callhook serve exits 0 on SIGTERM"

# Socket activation, the way callhook.socket starts the service: the socket exists first (mode 0660 like
# SocketMode=), callhook is started on the first connection and finds it as fd 3 (LISTEN_FDS, LISTEN_PID).
rm -f "$S/callhook.sock"
(cd "$S" && exec setpriv --reuid=callhook --regid=callhook --clear-groups -- \
	systemd-socket-activate -l "$S/callhook.sock" /usr/sbin/callhook -c "$S/callhook.conf" serve -w 1 \
	</dev/null >>"$T/callhook.log" 2>&1) &
CALLHOOK_PID=$!
wait_until "$WAIT_S" _smoke_up || bail_out "systemd-socket-activate listens on $S/callhook.sock"
chmod 0660 "$S/callhook.sock"
post POST "/hooks/smoke?token=$SMOKE_TOKEN" -H 'Content-Type: application/json' --data-binary "${BODY/\"id\":1/\"id\":2}"
is "$HTTP_STATUS" 200 "socket-activated callhook (LISTEN_FDS=1, fd 3) answers: 200"
like "$RESP_BODY" '"status":"stored"' "socket-activated callhook stores the call"
like "$(tr '\0' ' ' <"/proc/$CALLHOOK_PID/cmdline" 2>&1)" '^/usr/sbin/callhook ' \
	"the activated process is the installed callhook"
is "$(sql "select count(*) from calls")" 2 "two calls stored"
ok 'callhook_stop' "socket-activated callhook serve exits 0 on SIGTERM"
nginx_stop || true
pg_stop

# --- purge --------------------------------------------------------------------------------------------

DEBIAN_FRONTEND=noninteractive timeout 300 apt-get purge -y -q callhook >"$T/purge.log" 2>&1 && rc=0 || rc=$?
is "$rc" 0 "apt-get purge -y callhook"
[ "$rc" = 0 ] || diag "$(tail -n 20 "$T/purge.log")"
PKG_INSTALLED=0
is "$(dpkg-query -W -f='${Status}' callhook 2>/dev/null || true)" "" "dpkg no longer knows callhook"
for f in /usr/sbin/callhook /etc/callhook /var/spool/callhook /etc/nginx/snippets/callhook.conf \
	/etc/nginx/conf.d/callhook-upstream.conf /lib/systemd/system/callhook.socket \
	/lib/systemd/system/callhook.service /etc/systemd/system/sockets.target.wants/callhook.socket \
	/lib/systemd/system/callhook-prune.service /lib/systemd/system/callhook-prune.timer \
	/usr/lib/sysusers.d/callhook.conf /usr/lib/tmpfiles.d/callhook.conf /usr/share/callhook \
	/usr/share/doc/callhook; do
	ok '[ ! -e "$f" ] && [ ! -L "$f" ]' "purge removed $f"
done
ok 'getent passwd callhook >/dev/null' "purge keeps the system user callhook (Debian policy)"

done_testing
