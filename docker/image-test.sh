#!/usr/bin/env bash
# `make image-test`: build docker/Dockerfile with podman and check the image for real.
#
#  1. base image: Debian bookworm's python3 from debootstrap (docker/debian-base.sh), reused when
#     present: no container registry is reachable here, Debian's mirrors are;
#  2. build with host networking (pip and apt reach their registries), timed; layers and pip's
#     cache are kept, so a build after a code change reuses the compiled dependencies;
#  3. a fresh PostgreSQL database on 127.0.0.1:5432 (user postgres), `db upgrade` in a one-shot
#     container, then the service in production mode, limited to 1 CPU;
#  4. register a location and a camera, post a real photo as the camera, read the index and the
#     overview, check /ready (docker/image_check.py) and the image's HEALTHCHECK, that the
#     service runs as a non-root user with one worker (the CPU quota), and that no image bytes
#     are in any file the container changed (podman diff, then a scan of those files for
#     JPEG/PNG signatures and the photo);
#  5. remove the container and drop the database, whatever happened.
#
# Needs root (rootful podman, debootstrap) and podman, runc and debootstrap (installed here with
# apt-get when missing in CI). Outside CI (CI unset) it skips with the reason when it cannot run.
# Environment: PYTHON (a Python with httpx; default .venv/bin/python), HAPPINESS_IMAGE_BASE
# (another base, e.g. python:3.11-slim-bookworm where a registry is reachable), HAPPINESS_IMAGE.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-.venv/bin/python}"
BASE_IMAGE="${HAPPINESS_IMAGE_BASE:-localhost/happiness-base:bookworm}"
IMAGE="${HAPPINESS_IMAGE:-localhost/happiness-index-service:test}"
POSTGRES_ADMIN="${HAPPINESS_IMAGE_TEST_POSTGRES:-postgresql://postgres@127.0.0.1:5432/postgres}"
export CONTAINERS_CONF="$PWD/docker/containers.conf"
PODMAN=(podman --runtime runc --cgroup-manager=cgroupfs)
# podman sets up a systemd timer for an image's HEALTHCHECK and complains where systemd is not
# running; the check is run by hand below instead
quiet_podman() { "${PODMAN[@]}" "$@" 2> >(grep -v 'unable to get systemd connection' >&2); }
NAME="happiness-image-test-$$"
DATABASE="happiness_image_test_$$"
TOKEN="image-test-admin-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"

skip_or_fail() {
  if [ "${CI:-}" = "true" ]; then echo "image-test: FAILED: $1" >&2; exit 1; fi
  echo "image-test: SKIPPED: $1 (CI=true makes this a failure)"; exit 0
}

[ "$(id -u)" = 0 ] || skip_or_fail "needs root (rootful podman and debootstrap)"
if ! command -v podman >/dev/null || ! command -v runc >/dev/null || ! command -v debootstrap >/dev/null; then
  [ "${CI:-}" = "true" ] || skip_or_fail "podman, runc or debootstrap missing: apt-get install -y podman runc debootstrap"
  echo "image-test: installing podman, runc and debootstrap"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman runc debootstrap >/dev/null
fi
pg_isready -q -h 127.0.0.1 -p 5432 || skip_or_fail "no PostgreSQL server answers on 127.0.0.1:5432"
[ -x "$PYTHON" ] || skip_or_fail "$PYTHON not found (run make install, or set PYTHON)"

cleanup() {
  "${PODMAN[@]}" rm -f "$NAME" >/dev/null 2>&1 || true
  psql -q "$POSTGRES_ADMIN" -c "DROP DATABASE IF EXISTS $DATABASE WITH (FORCE)" >/dev/null 2>&1 || true
}
trap cleanup EXIT

# 1-2. base image and build
[ "$BASE_IMAGE" != "localhost/happiness-base:bookworm" ] || docker/debian-base.sh "$BASE_IMAGE"
started=$SECONDS
# the machine's CA bundle (PIP_CERT, else SSL_CERT_FILE, else Debian's) for pip in the build:
# these VMs reach PyPI through a TLS-inspecting proxy whose CA only the host's bundle has
ca_bundle="${PIP_CERT:-${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}}"
secret=()
[ ! -f "$ca_bundle" ] || secret=(--secret "id=pip-ca,src=$ca_bundle")
"${PODMAN[@]}" build --network host --format docker --layers "${secret[@]}" \
  --build-arg "BASE_IMAGE=$BASE_IMAGE" -f docker/Dockerfile -t "$IMAGE" .
build_s=$((SECONDS - started))
size_mb=$(( $("${PODMAN[@]}" image inspect --format '{{.Size}}' "$IMAGE") / 1000000 ))
echo "image-test: built $IMAGE on $BASE_IMAGE in ${build_s} s; image size ${size_mb} MB"

# 3. a fresh database, migrated by a one-shot container, and the service
psql -q "$POSTGRES_ADMIN" -c "CREATE DATABASE $DATABASE"
DATABASE_URL="postgresql+psycopg://postgres@127.0.0.1:5432/$DATABASE"
quiet_podman run --rm --network host -e "HAPPINESS_DATABASE_URL=$DATABASE_URL" "$IMAGE" db upgrade
PORT=$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
quiet_podman run -d --name "$NAME" --network host --cpus 1 \
  -e HAPPINESS_ENVIRONMENT=production -e "HAPPINESS_ADMIN_TOKEN=$TOKEN" \
  -e "HAPPINESS_DATABASE_URL=$DATABASE_URL" -e "HAPPINESS_PORT=$PORT" "$IMAGE" >/dev/null

# 4. the checks
if ! result=$("$PYTHON" docker/image_check.py exercise --base "http://127.0.0.1:$PORT" --token "$TOKEN"); then
  "${PODMAN[@]}" logs "$NAME" | tail -40
  echo "image-test: FAILED: the service in the container did not answer as it should" >&2; exit 1
fi
echo "image-test: service: $result"
"${PODMAN[@]}" healthcheck run "$NAME" >/dev/null || { echo "image-test: FAILED: the image's HEALTHCHECK" >&2; exit 1; }
uids=$("${PODMAN[@]}" top "$NAME" user | tail -n +2 | sort -u | tr '\n' ' ')
processes=$("${PODMAN[@]}" top "$NAME" args | tail -n +2 | grep -c python || true)
pid=$("${PODMAN[@]}" inspect --format '{{.State.Pid}}' "$NAME")
rss_mb=$(( $(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status") / 1024 ))
echo "image-test: processes run as: $uids; python processes: $processes (--cpus 1); worker RSS after the frame: ${rss_mb} MB"
case " $uids" in *" root "*|*" 0 "*) echo "image-test: FAILED: a process runs as root" >&2; exit 1;; esac
[ "$processes" = 1 ] || { echo "image-test: FAILED: $processes python processes under a 1-CPU quota, expected 1" >&2; exit 1; }

# scan_changes: 0 when no file the container added or changed holds image bytes
scan_changes() {
  local changed root status=0
  changed=$(mktemp)
  "${PODMAN[@]}" diff "$NAME" | awk '$1 != "D" {print $2}' > "$changed"
  root=$("${PODMAN[@]}" mount "$NAME")
  echo "image-test: paths the container added or changed: $(tr '\n' ' ' < "$changed")"
  "$PYTHON" docker/image_check.py scan "$root" "$changed" || status=$?
  "${PODMAN[@]}" unmount "$NAME" >/dev/null
  rm -f "$changed"
  return "$status"
}
scan_changes || { echo "image-test: FAILED: image bytes in the container's files" >&2; exit 1; }
# the control: a photo written inside the container must be found by the same scan
"$PYTHON" docker/image_check.py photo | "${PODMAN[@]}" exec -i "$NAME" sh -c 'cat > /tmp/planted'
if scan_changes >/dev/null; then echo "image-test: FAILED: the scan missed a photo planted in /tmp" >&2; exit 1; fi
echo "image-test: the scan finds a photo planted in the container's /tmp (control)"
echo "image-test: passed (build ${build_s} s, image ${size_mb} MB)"
