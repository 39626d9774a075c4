# Sourced by the README's commands: make sure Debian/Ubuntu packages are
# there, installing them when we are root, or saying exactly what to run.
# usage: need_packages pkg...
need_packages() {
    missing=""
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
            missing="$missing $p"
    done
    [ -z "$missing" ] && return 0
    if [ "$(id -u)" = 0 ]; then
        echo "ringo: installing$missing"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -q >/dev/null &&
            apt-get install -y -q --no-install-recommends $missing >/dev/null ||
            { echo "ringo: apt-get install failed for:$missing"; return 1; }
    else
        echo "ringo: missing packages; run:  sudo apt-get install$missing"
        return 1
    fi
}
