#!/usr/bin/env bash
# shellcheck disable=SC2016,SC2317  # ok takes code in single quotes; the EXIT trap calls _clone_cleanup
# The tests pass from a clone anywhere, even where the unprivileged user they run callhook and PostgreSQL as
# (nobody, when root) cannot enter. HEAD of this checkout is cloned (a) into a fresh mode-0700 directory, and
# (b) when root, into the mode-0700 home of a throwaway ordinary user (useradd, removed at the end), owned by
# that user, who runs each step through sudo, as `sudo tests/all.sh` would. In each clone: the build, the HTTP test,
# and the valgrind and sanitizer wrappers on the Fone Dynamics golden cases, each bounded in time and ending
# with status 0 and no "not ok". Prints TAP.
set -euo pipefail
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"

SMALL="golden fonedynamics"     # the small test the valgrind and sanitizer wrappers run
CLONE_USER=
SUDO_AS=                        # step runs its command as this user through sudo
SUDOERS=

setup_tmp
trap _clone_cleanup EXIT
_clone_cleanup() {
	local rc=$?
	set +e
	[ -z "$SUDOERS" ] || rm -f "$SUDOERS"
	[ -z "$CLONE_USER" ] || userdel "$CLONE_USER" >/dev/null 2>&1 || diag "userdel $CLONE_USER failed"
	(exit "$rc")
	_cleanup
}
command -v git >/dev/null || bail_out "git is installed"

# step LABEL NAME SECONDS COMMAND...: run COMMAND in the clone $C (bounded, environment of this test left
# out), its output in $T/LABEL-NAME.log; $RC is its status, $NOT_OK its count of "not ok" lines.
step() {
	local log=$T/$1-$2.log secs=$3 via=()
	shift 3
	# as the clone's owner through sudo, as that user would type `sudo tests/all.sh`
	[ -z "$SUDO_AS" ] || via=(setpriv --reuid="$SUDO_AS" --regid="$(id -g "$SUDO_AS")" --init-groups -- sudo -n --)
	(cd "$C" && exec timeout -k 10 "$secs" "${via[@]}" env -u CALLHOOK -u CALLHOOK_WRAPPER -u ASAN_OPTIONS \
		-u UBSAN_OPTIONS -u NGINX_PORT "$@") </dev/null >"$log" 2>&1 && RC=0 || RC=$?
	NOT_OK=$(grep -c '^not ok' "$log" || true)
}

# show LABEL NAME: the end of a step's log, when its check failed.
show() { diag "$(grep -E '^not ok|^#' "$T/$1-$2.log" | head -n 20; tail -n 15 "$T/$1-$2.log")"; }

# test_clone LABEL DIR [OWNER]: clone HEAD into DIR/callhook (then owned by OWNER) and run the subset there.
test_clone() {
	local label=$1 dir=$2 owner=${3:-} plan oks
	C=$dir/callhook
	if ! git clone -q --no-hardlinks "$REPO" "$C" >"$T/$label-clone.log" 2>&1; then
		_tap "not ok" "$label: git clone of HEAD"
		diag "$(cat "$T/$label-clone.log")"
		return 0
	fi
	[ -z "$owner" ] || chown -R "$owner:" "$C"
	is "$(stat -c %a "$dir")" 700 "$label: the clone's directory is mode 0700"
	[ "$IS_ROOT" = 0 ] || ok '! setpriv --reuid=nobody --regid=nogroup --clear-groups -- test -x "$dir"' \
		"$label: nobody, whom the tests run callhook and PostgreSQL as, cannot enter it"

	step "$label" build 600 sh -c 'autoreconf -fi && ./configure -q --enable-werror && make -j2 && make -j2 check TESTS='
	is "$RC" 0 "$label: the build succeeds"
	[ "$RC" = 0 ] || { show "$label" build; return 0; }

	step "$label" http 300 bash tests/integration/http.sh
	plan=$(sed -n 's/^1\.\.\([0-9][0-9]*\)$/\1/p' "$T/$label-http.log")
	oks=$(grep -c '^ok ' "$T/$label-http.log" || true)
	is "$RC|$NOT_OK|$oks" "0|0|${plan:-no plan}" "$label: http.sh exits 0, every check of its plan passes ($oks)"
	[ "$RC|$NOT_OK|$oks" = "0|0|$plan" ] || show "$label" http

	step "$label" valgrind 300 bash tests/valgrind.sh "$SMALL"
	is "$RC|$NOT_OK|$(grep -cE '^ok [0-9]+ - valgrind: [1-9][0-9]* callhook processes, no memory error and no leak$' \
		"$T/$label-valgrind.log")" "0|0|1" "$label: tests/valgrind.sh \"$SMALL\": callhook's processes logged, no error"
	[ "$NOT_OK" = 0 ] || show "$label" valgrind

	step "$label" sanitizers 600 bash tests/sanitizers.sh "$SMALL"
	is "$RC|$NOT_OK|$(grep -cxE 'ok [0-9]+ - (sanitizer build|no sanitizer report in any process)' \
		"$T/$label-sanitizers.log")" "0|0|2" "$label: tests/sanitizers.sh \"$SMALL\": built, no sanitizer report"
	[ "$NOT_OK" = 0 ] || show "$label" sanitizers
}

# (a) a fresh mode-0700 directory, as whoever runs this.
mkdir -m 0700 "$T/private"
test_clone "0700 dir" "$T/private"

# (b) an ordinary user's mode-0700 home, the tests run by that user through sudo (a sudoers entry for the
# throwaway user, removed with it).
if [ "$IS_ROOT" = 1 ] && command -v sudo >/dev/null && command -v visudo >/dev/null; then
	CLONE_USER=chclone$$
	useradd -M -d "$T/home" -s /usr/sbin/nologin "$CLONE_USER" || bail_out "useradd $CLONE_USER"
	mkdir -m 0700 "$T/home"
	chown "$CLONE_USER:" "$T/home"
	SUDOERS=/etc/sudoers.d/callhook-clone-$$
	printf '%s ALL=(root) NOPASSWD: ALL\n' "$CLONE_USER" >"$SUDOERS.tmp"
	chmod 0440 "$SUDOERS.tmp"
	visudo -cqf "$SUDOERS.tmp" && mv "$SUDOERS.tmp" "$SUDOERS" || bail_out "a sudoers entry for $CLONE_USER"
	SUDO_AS=$CLONE_USER C=$T/home
	step "home dir, sudo" whoami 30 sh -c 'echo "$(id -un) $SUDO_USER"'
	is "$RC $(cat "$T/home dir, sudo-whoami.log")" "0 root $CLONE_USER" \
		"home dir, sudo: the steps run as root through sudo, for the user $CLONE_USER"
	test_clone "home dir, sudo" "$T/home" "$CLONE_USER"
	SUDO_AS=
	rm -f "$SUDOERS" && SUDOERS=
	userdel "$CLONE_USER" && CLONE_USER=
	is "$(getent passwd "chclone$$" || true)" "" "the throwaway user is removed"
elif [ "$IS_ROOT" = 1 ]; then
	_tap "not ok" "home dir, sudo: sudo is installed (deploy/install-deps.sh --test installs it)"
else
	_tap ok "home dir, sudo # SKIP needs root (useradd)"
fi
done_testing
