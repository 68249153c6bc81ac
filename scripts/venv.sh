# Sourced by scripts/run and scripts/test: makes sure $VENV holds a virtualenv with devproxy.
# On a fresh Debian machine `python3 -m venv` needs Debian's python3-venv; it is installed when missing.
# devproxy is installed editable, so code changes need no reinstall: pip runs again only when
# pyproject.toml changes (a stamp in the virtualenv holds its hash), and a complete .venv needs no
# package index.
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${DEVPROXY_VENV:-$REPO/.venv}"
#: seconds apt waits for another process's package-manager lock (a CI machine's boot-time update).
APT_LOCK_TIMEOUT="${DEVPROXY_APT_LOCK_TIMEOUT:-600}"

apt_get() {  # apt_get ARGS: apt-get that waits for the dpkg and package-list locks instead of failing
    local sudo=""
    [[ $(id -u) -ne 0 ]] && sudo="sudo"
    DEBIAN_FRONTEND=noninteractive $sudo apt-get -o DPkg::Lock::Timeout="$APT_LOCK_TIMEOUT" "$@"
}

apt_install() {
    echo "installing Debian packages: $*" >&2
    apt_get update -qq
    apt_get install -y -qq --no-install-recommends "$@" >/dev/null
}

install_stamp() {  # install_stamp EXTRAS: what the stamp of an install with these extras must hold
    echo "$1 $(sha256sum "$REPO/pyproject.toml" | cut -d' ' -f1)"
}

stamp_file() {  # stamp_file EXTRAS
    echo "$VENV/.devproxy-install${1//[^a-z]/-}"
}

ensure_venv() {  # ensure_venv EXTRAS [EXTRAS that include them...]   e.g. ensure_venv '[cloud]' '[test]'
    local extras
    if [[ -x "$VENV/bin/devproxy" ]]; then
        for extras in "$@"; do
            if [[ -f "$(stamp_file "$extras")" && "$(cat "$(stamp_file "$extras")")" == "$(install_stamp "$extras")" ]]
            then
                return 0
            fi
        done
    fi
    local stamp
    stamp="$(stamp_file "$1")"
    if [[ ! -x "$VENV/bin/python" ]]; then
        echo "creating the virtualenv $VENV" >&2
        if ! python3 -m venv "$VENV" 2>/dev/null; then
            rm -rf "$VENV"
            apt_install python3-venv python3-pip
            python3 -m venv "$VENV"
        fi
    fi
    echo "installing devproxy$1 and its dependencies into $VENV (again only when pyproject.toml changes)" >&2
    # one line per package pip fetches, so a first install (about a minute) is not silent
    "$VENV/bin/python" -m pip install --disable-pip-version-check --progress-bar off -e "$REPO$1" \
        | { grep --line-buffered -E '^(Collecting|Successfully installed)' || true; } >&2
    install_stamp "$1" >"$stamp"
}
