# Sourced by the smoke scripts that run an example server: waiting for its
# "listening on" line and stopping it. Each script defines fail().

# wait_listening OUT PID WHAT GREP SED: wait (10 s at most) until OUT has a
# line matching GREP while PID lives, then set $port from SED's capture.
wait_listening() {
    wl_i=0
    while ! grep -qs "$4" "$1"; do
        wl_i=$((wl_i + 1))
        [ $wl_i -gt 100 ] && fail "$3 did not print 'listening on' within 10 s"
        kill -0 "$2" 2>/dev/null || fail "$3 exited early"
        sleep 0.1
    done
    port=$(sed -n "$5" "$1")
    [ -n "$port" ] && [ "$port" -gt 0 ] || fail "$3: no port in: $(cat "$1")"
}

# stop SIG: send SIG to the server $pid, which must exit 0 on its own.
stop() {
    kill -"$1" "$pid" || fail "server already gone"
    wait "$pid"
    st=$?
    pid=
    [ $st -eq 0 ] || fail "exit status $st after SIG$1, want 0"
}
