#!/bin/bash
# The checks of the systemd VM tier (scripts/test-systemd-vm), run inside the booted guest by
# pcmd-vmtest.service, with systemd as PID 1 and pcmd installed by `make install` (its units enabled as a
# distribution would: pcmd.socket for the system, pcmd.socket --global for users).
#
#   guest.sh RESULTS             run every check; RESULTS is the host's results folder (9p)
#   guest.sh --one FUNCTION DIR  (internal) one check in a process of its own, its transcript in DIR
#
# Each check is a named test that fails by exiting non-zero; it writes why to DIR/reason. The outcomes go
# to RESULTS/results.json in the format of tests/hardware/runner.py, whose host mode prints the summary
# after the VM has exited, together with the bit-exact checks of the HDA output that the checks declare
# in RESULTS/hda-checks.jsonl (tests/hardware/README.md).
set -euo pipefail

# Written by scripts/test-systemd-vm into the image: the signals to play (tests/systemd-vm/signals.py).
readonly signals=/usr/local/share/pcmd-vmtest
readonly test_user=pcmdtest
# qemu's Intel HDA card and snd-dummy, by their ALSA card ids (never by index).
readonly hda_card=Intel
readonly dummy_card=Dummy
readonly system_socket=/run/pcmd/socket
# pcmd.service's WatchdogSec=: how long systemd waits for a WATCHDOG=1.
readonly watchdog_seconds=10
# How long a restart by the watchdog may take to show: WatchdogSec=, RestartSec=1s, and slack for a guest
# whose CPU is emulated (10-60x slower than the host) on a shared host.
readonly restart_deadline=$((watchdog_seconds + 50))
# The period pcmd uses on the HDA card: as in hwtest's bit-exact test, a buffer large enough (4 x 4096
# frames, 340 ms) that the emulated machine's stalls cannot cause an xrun, which would break bit-exactness.
readonly pcmd_conf_lines=$'device = hw:Intel,0\nperiod = 4096\nperiods = 4'

# ---- helpers for the checks (each check runs with set -e; a failing command fails it) ----------------

say() { printf '[%s] %s\n' "$(date +%T.%N | cut -c1-12)" "$*"; }

fail() {
    say "FAILED: $*"
    printf '%s\n' "$*" >"$test_dir/reason"
    exit 1
}

# run CMD...: the command and its output in the transcript; its status is returned (set -e fails the
# check on a non-zero one, with the command named in the reason by the ERR trap).
run() {
    say "\$ $*"
    local status=0
    "$@" 2>&1 || status=$?
    if [ "$status" -ne 0 ]; then
        say "[exit $status]"
        # What the reason names if this failure ends the check (see run_one).
        printf '%s exited with status %s\n' "$*" "$status" >"$test_dir/last-failure"
    fi
    return "$status"
}

# wait_for SECONDS WHAT CMD...: polls CMD (quietly) until it succeeds, or fails the check.
wait_for() {
    local seconds=$1 what=$2
    shift 2
    local deadline=$((SECONDS + seconds))
    until "$@" >/dev/null 2>&1; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            fail "$what: not within ${seconds} s"
        fi
        sleep 0.5
    done
    say "ok: $what"
}

prop() { systemctl show -p "$2" --value "$1"; }
uid_of_test_user() { id -u "$test_user"; }
# as_user CMD...: CMD as the test user (a member of the audio group), with the user's runtime directory.
as_user() { runuser -u "$test_user" -- env XDG_RUNTIME_DIR="/run/user/$(uid_of_test_user)" HOME="/home/$test_user" "$@"; }
uprop() { as_user systemctl --user show -p "$2" --value "$1"; }

# The journal's current end, to read only what comes after it.
journal_cursor() { journalctl -n 1 -o export --no-pager | sed -n 's/^__CURSOR=//p'; }
# journal_since CURSOR [journalctl options]: the entries after CURSOR.
journal_since() {
    local cursor=$1
    shift
    journalctl --no-pager -o short-monotonic --after-cursor="$cursor" "$@"
}
journal_has() {
    local cursor=$1 text=$2
    shift 2
    journal_since "$cursor" "$@" | grep -qF -- "$text"
}

expect_equal() {
    local what=$1 expected=$2 actual=$3
    say "$what: $actual"
    [ "$actual" = "$expected" ] || fail "$what is '$actual', expected '$expected'"
}

# declare_hda NAME LABEL: the stream NAME (tests/systemd-vm/signals.py) must appear bit for bit in qemu's
# HDA output, after the previously declared one (checked on the host once the VM is off).
declare_hda() {
    printf '{"test": "%s", "expected": "signals/%s-expected.wav", "allow_missing_tail_frames": 0, "label": "%s", "present": true}\n' \
        "$test_id" "$1" "$2" >>"$results/hda-checks.jsonl"
    say "declared host check: $2"
}

card_present() { grep -q "\[$1 *\]" /proc/asound/cards; }
pcmd_main_pid() { prop pcmd.service MainPID; }
# systemd's own words for a watchdog kill: "Watchdog timeout (limit 10s)!" and the unit's result.
watchdog_in_journal() {
    journal_has "$1" "pcmd.service: Watchdog timeout" && journal_has "$1" "pcmd.service: Failed with result 'watchdog'"
}
service_is_running() { [ "$(prop "$1" ActiveState)/$(prop "$1" SubState)" = active/running ]; }
# A new main process (not $2, not 0) that is up and running: systemd restarted the service.
restarted_from() { local pid; pid=$(pcmd_main_pid); [ "$pid" != 0 ] && [ "$pid" != "$1" ] && service_is_running pcmd.service; }

# Plays a signal through the system pcmd as the test user and checks that the client saw no error.
play_as_user_on_system_pcmd() {
    run as_user timeout 120 pcmplay --quiet --socket "$system_socket" --name "vmtest-$1" "$signals/$1.wav"
}

# ---- the checks ---------------------------------------------------------------------------------------

# Not one of the issue's checks: what the others need. pcmd's binaries find their libraries, the cards
# are there, the test user exists, and the system pcmd is told to use the HDA card with a large buffer.
t_setup() {
    local tool
    for tool in pcmd pcmplay pcmrec pcmctl; do
        if ldd "/usr/local/bin/$tool" | grep -q 'not found'; then
            run ldd "/usr/local/bin/$tool" || true
            fail "/usr/local/bin/$tool lacks libraries in this root"
        fi
    done
    say "the installed binaries find every library"
    # udev loaded snd-hda-intel at boot for qemu's intel-hda device.
    wait_for 90 "the HDA card ($hda_card) is there" card_present "$hda_card"
    # At 100% and unmuted the card passes samples unchanged (hwlib.hda_card()).
    run amixer -q -c "$hda_card" sset Master 100% unmute
    run modprobe snd-dummy
    wait_for 30 "the $dummy_card card is there" card_present "$dummy_card"
    run cat /proc/asound/cards
    id "$test_user" >/dev/null 2>&1 || run useradd --create-home --groups audio --shell /bin/bash "$test_user"
    run id "$test_user"
    # An administrator's edit of the installed config, as pcmd.conf's own comments describe it.
    printf '\n# scripts/test-systemd-vm:\n%s\n' "$pcmd_conf_lines" >>/etc/pcmd/pcmd.conf
    run grep -v '^#' /etc/pcmd/pcmd.conf
}

# (a) The first client on pcmd.socket starts pcmd.service.
t_socket_activation() {
    wait_for 30 "pcmd.socket is active" systemctl is-active --quiet pcmd.socket
    run systemctl status --no-pager pcmd.socket || true
    expect_equal "pcmd.service before any client" inactive "$(prop pcmd.service ActiveState)"
    expect_equal "the listening socket (type owner:group mode)" "socket root:audio 660" \
        "$(stat -c '%F %U:%G %a' "$system_socket")"
    local cursor
    cursor=$(journal_cursor)
    # The first client: pcmctl connects to the socket systemd holds, which starts pcmd.
    run timeout 120 pcmctl devices --socket "$system_socket"
    expect_equal "pcmd.service after the first client" active "$(prop pcmd.service ActiveState)"
    # Starting the service must not take the socket from the audio group (a RuntimeDirectory= of the
    # DynamicUser service once did: it chowned /run/pcmd and the socket to the dynamic user).
    run namei -l "$system_socket"
    expect_equal "the socket once pcmd runs (type owner:group mode)" "socket root:audio 660" \
        "$(stat -L -c '%F %U:%G %a' "$system_socket")"
    expect_equal "/run/pcmd (type owner mode)" "directory root 755" "$(stat -c '%F %U %a' /run/pcmd)"
    run journal_since "$cursor" -u pcmd.service
    journal_has "$cursor" "Started pcmd.service" -u pcmd.service ||
        journal_has "$cursor" "Started pcmd sound server" -u pcmd.service ||
        fail "the journal does not show systemd starting pcmd.service"
    wait_for 20 "pcmd logged that it serves the socket systemd passed" \
        journal_has "$cursor" "serving the socket systemd passed" -u pcmd.service
}

# (b) READY and STATUS reach systemd, and so do the watchdog pings.
t_ready_and_status() {
    run systemctl show -p Type,NotifyAccess,ActiveState,SubState,StatusText,WatchdogUSec,WatchdogTimestampMonotonic pcmd.service
    expect_equal "Type" notify "$(prop pcmd.service Type)"
    # A Type=notify service becomes active/running only when READY=1 arrives.
    expect_equal "ActiveState/SubState" active/running "$(prop pcmd.service ActiveState)/$(prop pcmd.service SubState)"
    # pcmd's first STATUS= names the device; the refreshed one adds how each stream does.
    status_mentions_streaming() { prop pcmd.service StatusText | grep -q "hw:$hda_card,0.*playback streaming"; }
    wait_for 30 "StatusText names the device and says it streams" status_mentions_streaming
    say "StatusText: $(prop pcmd.service StatusText)"
    # WatchdogTimestamp moves with every WATCHDOG=1 systemd receives (pcmd pings every WatchdogSec/2).
    local first
    first=$(prop pcmd.service WatchdogTimestampMonotonic)
    watchdog_moved() { [ "$(prop pcmd.service WatchdogTimestampMonotonic)" != "$first" ]; }
    wait_for 30 "a WATCHDOG=1 reached systemd (WatchdogTimestampMonotonic moved from $first)" watchdog_moved
}

# (f) The hardened unit as installed (DynamicUser, PrivateDevices with /dev/snd bound, seccomp,
# ProtectSystem=strict...) is in force and streams bit for bit to the real snd-hda-intel card.
t_hardened_unit_streams_to_hda() {
    local pid
    pid=$(pcmd_main_pid)
    run ps -o pid,user,group,supgrp,rtprio,cmd -p "$pid"
    run grep -E '^(Uid|Gid|Groups|NoNewPrivs|Seccomp|CapEff|CapBnd):' "/proc/$pid/status"
    local uid
    uid=$(awk '/^Uid:/ { print $2 }' "/proc/$pid/status")
    # DynamicUser=yes allocates from 61184-65519.
    [ "$uid" -ge 61184 ] && [ "$uid" -le 65519 ] || fail "pcmd runs as uid $uid, not a dynamic user"
    grep -qw "$(getent group audio | cut -d: -f3)" <(awk '/^Groups:/' "/proc/$pid/status") ||
        fail "pcmd is not in the audio group (SupplementaryGroups=audio)"
    expect_equal "Seccomp (2: a filter is loaded)" 2 "$(awk '/^Seccomp:/ { print $2 }' "/proc/$pid/status")"
    expect_equal "NoNewPrivs" 1 "$(awk '/^NoNewPrivs:/ { print $2 }' "/proc/$pid/status")"
    expect_equal "CapEff" 0000000000000000 "$(awk '/^CapEff:/ { print $2 }' "/proc/$pid/status")"
    # Its /dev is private with /dev/snd bound in; the system is read-only.
    run nsenter -t "$pid" -m ls /dev /dev/snd
    nsenter -t "$pid" -m test -e /dev/snd/controlC0 || fail "/dev/snd is not bound into pcmd's /dev"
    if nsenter -t "$pid" -m test -e /dev/vda; then fail "pcmd's /dev has the disk /dev/vda: PrivateDevices= is not in force"; fi
    if run nsenter -t "$pid" -m touch /usr/pcmd-vmtest-probe; then fail "/usr is writable in pcmd's namespace: ProtectSystem= is not in force"; fi
    say "DynamicUser, the audio group, seccomp, no capabilities, a private /dev with /dev/snd, a read-only /usr: in force"
    run pcmctl devices --socket "$system_socket"
    run as_user id
    # A member of the audio group plays through the socket; the counter must reach the card unchanged.
    play_as_user_on_system_pcmd system
    declare_hda system "a frame counter played with pcmplay through the hardened system pcmd"
    run pcmctl devices --socket "$system_socket"
}

# (c) `systemctl reload pcmd` makes pcmd reopen its device in place; a client works after it.
t_reload_reopens_device() {
    local pid before_status cursor trigger_before
    pid=$(pcmd_main_pid)
    before_status=$(prop pcmd.service StatusText)
    # The kernel's own record of when the stream was last started: a reopen starts it again.
    trigger_before=$(grep trigger_time "/proc/asound/$hda_card/pcm0p/sub0/status")
    say "before: MainPID $pid, StatusText '$before_status', $trigger_before"
    cursor=$(journal_cursor)
    run timeout 120 systemctl reload pcmd.service
    wait_for 30 "pcmd logged the SIGHUP and reopening" journal_has "$cursor" "SIGHUP: reopening devices" -u pcmd.service
    wait_for 30 "systemd logged the reload as done" journal_has "$cursor" "Reloaded pcmd" -u pcmd.service
    wait_for 30 "the device streams again (pcmd logged it)" journal_has "$cursor" "device streaming" -u pcmd.service
    run journal_since "$cursor" -u pcmd.service
    expect_equal "ActiveState/SubState after the reload" active/running "$(prop pcmd.service ActiveState)/$(prop pcmd.service SubState)"
    expect_equal "MainPID after the reload (reopened in place, not restarted)" "$pid" "$(pcmd_main_pid)"
    local after_status
    after_status=$(prop pcmd.service StatusText)
    say "StatusText after the reload: '$after_status'"
    [ -n "$after_status" ] && [ "$after_status" != "$before_status" ] || fail "no new STATUS= after the reload"
    run grep -E 'state|trigger_time' "/proc/asound/$hda_card/pcm0p/sub0/status"
    local trigger_after
    trigger_after=$(grep trigger_time "/proc/asound/$hda_card/pcm0p/sub0/status")
    [ "$trigger_after" != "$trigger_before" ] || fail "the HDA stream was not restarted by the reload ($trigger_after)"
    play_as_user_on_system_pcmd system
    declare_hda system "the same counter played again after systemctl reload"
}

# (d) A pcmd stopped with SIGSTOP stops pinging: the watchdog kills and restarts it, clients reconnect.
t_watchdog_restarts_stopped_pcmd() {
    local pid restarts cursor started
    pid=$(pcmd_main_pid)
    restarts=$(prop pcmd.service NRestarts)
    cursor=$(journal_cursor)
    say "MainPID $pid, NRestarts $restarts"
    started=$SECONDS
    run kill -STOP "$pid"
    wait_for "$restart_deadline" "systemd restarted pcmd (a new MainPID, running)" restarted_from "$pid"
    say "restarted after $((SECONDS - started)) s: MainPID $(pcmd_main_pid)"
    wait_for 30 "the journal shows systemd's watchdog timeout for pcmd.service" watchdog_in_journal "$cursor"
    run journal_since "$cursor" -u pcmd.service
    expect_equal "NRestarts" $((restarts + 1)) "$(prop pcmd.service NRestarts)"
    if kill -0 "$pid" 2>/dev/null; then fail "the stopped pcmd ($pid) still exists"; fi
    run timeout 120 pcmctl devices --socket "$system_socket"
}

# (e) Only the audio thread hangs: pcmd plays into an alsa-lib `file` PCM (on snd-dummy) whose output is a
# FIFO that is held open but never read. Once the pipe is full the audio thread blocks in write() while
# the rest of pcmd runs on; pcmd withholds WATCHDOG=1 and systemd restarts it.
t_watchdog_restarts_hung_audio_thread() {
    local fifo=/run/pcmd-vmtest/hang.fifo
    # Undone whatever the outcome, so that the next checks find the usual pcmd.
    restore() {
        cp /etc/pcmd/pcmd.conf.vmtest-saved /etc/pcmd/pcmd.conf
        rm -f /etc/asound.conf
        systemctl stop pcmd-vmtest-fifo-holder.service 2>/dev/null || true
        systemctl restart pcmd.service
    }
    cleanup=restore
    mkdir -p /run/pcmd-vmtest
    rm -f "$fifo"
    mkfifo -m 0666 "$fifo"
    # A reader that keeps the FIFO open (so that opening it for writing does not block) and reads nothing.
    run systemd-run --unit=pcmd-vmtest-fifo-holder --quiet /bin/sh -c "exec sleep infinity 3<>$fifo"
    cat >/etc/asound.conf <<EOF
# scripts/test-systemd-vm: snd-dummy's first device, everything played also written to a FIFO.
pcm.pcmd_vmtest_hang {
    type file
    slave.pcm "hw:$dummy_card,0"
    file "$fifo"
    format "raw"
}
EOF
    cp /etc/pcmd/pcmd.conf /etc/pcmd/pcmd.conf.vmtest-saved
    sed -i "s/^device = .*/device = pcmd_vmtest_hang/" /etc/pcmd/pcmd.conf
    run grep -v '^#' /etc/pcmd/pcmd.conf
    run systemctl restart pcmd.service
    local pid restarts cursor started
    pid=$(pcmd_main_pid)
    restarts=$(prop pcmd.service NRestarts)
    cursor=$(journal_cursor)
    started=$SECONDS
    say "MainPID $pid, NRestarts $restarts"
    wait_for 40 "pcmd noticed its audio thread stalled" journal_has "$cursor" "audio thread stalled" -u pcmd.service
    # The daemon itself still answers: only the audio thread is stuck, in a write to the full pipe.
    run timeout 60 pcmctl devices --socket "$system_socket"
    run sh -c "grep -H . /proc/$pid/task/*/comm /proc/$pid/task/*/wchan" || true
    # The audio thread (pcmd-playback) is the one blocked in the pipe's write; no other thread is.
    local task blocked=""
    for task in /proc/"$pid"/task/*; do
        [ "$(cat "$task/wchan" 2>/dev/null)" = pipe_write ] && blocked+="$(cat "$task/comm") "
    done
    expect_equal "the threads blocked in pipe_write" "pcmd-playback " "$blocked"
    wait_for "$restart_deadline" "systemd restarted pcmd (a new MainPID, running)" restarted_from "$pid"
    say "restarted $((SECONDS - started)) s after the restart that opened the FIFO device: MainPID $(pcmd_main_pid)"
    wait_for 30 "the journal shows systemd's watchdog timeout for pcmd.service" watchdog_in_journal "$cursor"
    run journal_since "$cursor" -u pcmd.service
    expect_equal "NRestarts" $((restarts + 1)) "$(prop pcmd.service NRestarts)"
    # The restarted pcmd takes clients (its audio thread will hang again: the FIFO is still full).
    run timeout 60 pcmctl devices --socket "$system_socket"
    cleanup=
    restore
    wait_for 60 "pcmd runs again on the HDA card" service_is_running pcmd.service
    run timeout 120 pcmctl devices --socket "$system_socket"
}

# (h) systemd-analyze security rates the installed system unit at most 0.9 ("SAFE" is below 1.0).
t_security_exposure() {
    local report status=0
    report=$(systemd-analyze security --no-pager pcmd.service 2>&1) || status=$?
    printf '%s\n' "$report"
    [ "$status" -eq 0 ] || fail "systemd-analyze security exited $status"
    local level
    level=$(printf '%s\n' "$report" | sed -n 's/.*Overall exposure level for pcmd.service: \([0-9.]*\).*/\1/p')
    [ -n "$level" ] || fail "no overall exposure level in systemd-analyze's report"
    say "overall exposure level: $level"
    awk -v level="$level" 'BEGIN { exit !(level <= 0.9) }' || fail "exposure $level is above 0.9"
}

# (g) The user units under `systemd --user` (a lingering user in the audio group): the user's
# pcmd.socket starts the user's pcmd.service on the first client, and a stream reaches the HDA card.
t_user_units() {
    local uid
    uid=$(uid_of_test_user)
    # The card is one: the system pcmd gives it up for the user's.
    run systemctl stop pcmd.socket pcmd.service
    restart_system_socket() { systemctl start pcmd.socket; }
    cleanup=restart_system_socket
    run loginctl enable-linger "$test_user"
    wait_for 90 "user@$uid.service (systemd --user) runs" systemctl is-active --quiet "user@$uid.service"
    run ps -o pid,user,cmd -u "$test_user"
    wait_for 60 "the user's pcmd.socket is active" as_user systemctl --user is-active --quiet pcmd.socket
    expect_equal "the user's pcmd.service before any client" inactive "$(uprop pcmd.service ActiveState)"
    expect_equal "the user's socket (type owner mode)" "socket $test_user 600" \
        "$(stat -c '%F %U %a' "/run/user/$uid/pcmd/socket")"
    # The user's config: the HDA card with the same large buffer as the system daemon's.
    as_user mkdir -p "/home/$test_user/.config/pcmd"
    printf '%s\n' "$pcmd_conf_lines" | as_user tee "/home/$test_user/.config/pcmd/pcmd.conf" >/dev/null
    # The first client, through the default socket ($XDG_RUNTIME_DIR/pcmd/socket), starts the service.
    run as_user timeout 120 pcmctl devices
    expect_equal "the user's pcmd.service after the first client" active/running \
        "$(uprop pcmd.service ActiveState)/$(uprop pcmd.service SubState)"
    run as_user systemctl --user status --no-pager pcmd.service || true
    local pid
    pid=$(uprop pcmd.service MainPID)
    expect_equal "the user pcmd's owner" "$test_user" "$(ps -o user= -p "$pid")"
    expect_equal "Seccomp of the user pcmd" 2 "$(awk '/^Seccomp:/ { print $2 }' "/proc/$pid/status")"
    user_status_streams() { uprop pcmd.service StatusText | grep -q "playback streaming"; }
    wait_for 30 "the user unit's StatusText says it streams" user_status_streams
    say "StatusText: $(uprop pcmd.service StatusText)"
    run as_user timeout 120 pcmplay --quiet --name vmtest-user "$signals/user.wav"
    declare_hda user "a frame counter played with pcmplay through the user's pcmd"
}

# ---- the runner --------------------------------------------------------------------------------------

# (id, function, timeout in seconds) in the order they run: (f) before the reload and the restarts, so
# that the first stream through the freshly started pcmd is the one checked; the user units last, since
# they take the card from the system pcmd.
readonly checks=(
    "vm::setup t_setup 180"
    "systemd::socket_activation t_socket_activation 180"
    "systemd::ready_and_status t_ready_and_status 120"
    "systemd::hardened_unit_streams_to_hda t_hardened_unit_streams_to_hda 240"
    "systemd::reload_reopens_device t_reload_reopens_device 240"
    "systemd::watchdog_restarts_stopped_pcmd t_watchdog_restarts_stopped_pcmd 240"
    "systemd::watchdog_restarts_hung_audio_thread t_watchdog_restarts_hung_audio_thread 300"
    "systemd::security_exposure t_security_exposure 120"
    "user::user_units t_user_units 300"
)

json_string() {
    local s=$1
    s=${s//\\/\\\\}
    s=${s//\"/\\\"}
    s=${s//$'\t'/\\t}
    s=${s//$'\n'/\\n}
    printf '"%s"' "$(printf '%s' "$s" | tr -d '\000-\010\013-\037')"
}

# results.json as tests/hardware/runner.py writes it: the plan, then one outcome per finished check.
write_results() {
    local finished=$1 plan="" entry
    for entry in "${checks[@]}"; do
        plan+="${plan:+, }$(json_string "${entry%% *}")"
    done
    local outcomes
    outcomes=$(IFS=,; printf '%s' "${outcome_json[*]-}")
    printf '{"plan": [%s], "results": [%s], "finished": %s, "kernel": %s}\n' \
        "$plan" "$outcomes" "$finished" "$(json_string "$(uname -r)")" >"$results/results.json.tmp"
    mv "$results/results.json.tmp" "$results/results.json"
}

run_all() {
    results=$1
    # The host shares the results folder over 9p (tag "results").
    mkdir -p "$results"
    if ! mountpoint -q "$results"; then
        modprobe 9pnet_virtio
        mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 results "$results"
    fi
    outcome_json=()
    write_results false
    local entry id function timeout_seconds number=0
    for entry in "${checks[@]}"; do
        read -r id function timeout_seconds <<<"$entry"
        number=$((number + 1))
        local dir="$results/tests/${id//::/--}"
        mkdir -p "$dir"
        printf '[%d/%d] %s ...' "$number" "${#checks[@]}" "$id"
        local started status=0
        started=$(date +%s.%N)
        TEST_ID=$id timeout --kill-after=10 "$timeout_seconds" "$0" --one "$function" "$dir" >"$dir/log.txt" 2>&1 || status=$?
        local seconds reason=""
        seconds=$(awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
        if [ "$status" -ne 0 ]; then
            if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
                reason="timed out after $timeout_seconds s"
            elif [ -s "$dir/reason" ]; then
                reason=$(cat "$dir/reason")
            else
                reason="exited with status $status"
            fi
            reason+=$'\n'"transcript: tests/${id//::/--}/log.txt"
            printf ' FAIL (%s s)\n%s\n' "$seconds" "$(printf '%s\n' "$reason" | sed 's/^/      /')"
        else
            printf ' ok (%s s)\n' "$seconds"
        fi
        outcome_json+=("{\"id\": $(json_string "$id"), \"passed\": $([ "$status" -eq 0 ] && echo true || echo false), \"seconds\": $seconds, \"reason\": $(json_string "$reason"), \"notes\": []}")
        write_results false
    done
    # The whole boot's journal and kernel log, for what the transcripts do not show.
    journalctl -b --no-pager -o short-monotonic >"$results/journal.txt" 2>&1 || true
    dmesg >"$results/dmesg.txt" 2>&1 || true
    write_results true
    sync
}

# At the end of a check: its cleanup (a check sets `cleanup` to a function that undoes its changes,
# whatever the outcome), and a reason for a failure that did not give one.
on_exit() {
    local status=$?
    if [ -n "${cleanup:-}" ]; then
        say "cleanup: $cleanup"
        "$cleanup" 2>&1 || say "cleanup $cleanup failed"
    fi
    if [ "$status" -ne 0 ] && [ ! -s "$test_dir/reason" ]; then
        if [ -s "$test_dir/last-failure" ]; then cp "$test_dir/last-failure" "$test_dir/reason"
        else echo "exited with status $status" >"$test_dir/reason"; fi
    fi
    exit "$status"
}

run_one() {
    local function=$1
    test_dir=$2
    test_id=${TEST_ID:?}
    results=$(dirname "$(dirname "$test_dir")")
    # A command that fails the check names itself in the reason.
    # A command that fails the check (set -e) names itself in the reason: the ERR trap (set -E: in
    # functions too) records it, except a failing `return`, which run() has already described.
    set -E
    trap 'status=$?; case $BASH_COMMAND in return*) ;; *) [ -s "$test_dir/reason" ] || printf "command failed (status %s) at guest.sh line %s: %s\n" "$status" "$LINENO" "$BASH_COMMAND" >"$test_dir/reason" ;; esac' ERR
    trap on_exit EXIT
    say "$test_id ($function)"
    "$function"
    say "passed"
}

case "${1:-}" in
    --one) run_one "$2" "$3" ;;
    ""|-*) echo "usage: guest.sh RESULTS" >&2; exit 2 ;;
    *) run_all "$1" ;;
esac
