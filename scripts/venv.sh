# Sourced by scripts/run and scripts/test: makes sure $VENV holds a virtualenv with devproxy.
# On a fresh Debian machine `python3 -m venv` needs Debian's python3-venv; it is installed when missing.
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${DEVPROXY_VENV:-$REPO/.venv}"

apt_install() {
    local sudo=""
    [[ $(id -u) -ne 0 ]] && sudo="sudo"
    echo "installing Debian packages: $*" >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

ensure_venv() {  # ensure_venv EXTRAS   e.g. ensure_venv '[test]'
    if [[ ! -x "$VENV/bin/python" ]]; then
        if ! python3 -m venv "$VENV" 2>/dev/null; then
            rm -rf "$VENV"
            apt_install python3-venv python3-pip
            python3 -m venv "$VENV"
        fi
    fi
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e "$REPO$1"
}
