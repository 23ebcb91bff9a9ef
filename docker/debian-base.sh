#!/usr/bin/env bash
# A python3 base image from Debian bookworm, built with debootstrap and imported into podman: the
# image test's stand-in for python:3.11-slim-bookworm where no container registry is reachable
# (Debian's package mirrors are). Kept between runs: an existing image is reused.
#   docker/debian-base.sh [IMAGE]        default localhost/happiness-base:bookworm
set -euo pipefail

IMAGE="${1:-localhost/happiness-base:bookworm}"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
PODMAN=(podman --runtime runc --cgroup-manager=cgroupfs)

if "${PODMAN[@]}" image exists "$IMAGE"; then
  echo "base image $IMAGE: present, reused"
  exit 0
fi
root="$(mktemp -d /var/tmp/happiness-base.XXXXXX)"
trap 'rm -rf "$root"' EXIT
started=$SECONDS
echo "base image $IMAGE: debootstrap --variant=minbase bookworm from $MIRROR"
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates bookworm "$root" "$MIRROR"
# the security and point-release updates too, as the official python image has them
cat > "$root/etc/apt/sources.list" <<SOURCES
deb $MIRROR bookworm main
deb $MIRROR bookworm-updates main
deb ${MIRROR%/debian}/debian-security bookworm-security main
SOURCES
chroot "$root" /bin/sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get upgrade -y -qq && apt-get clean'
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin
tar --numeric-owner -C "$root" -c . | "${PODMAN[@]}" import --change 'CMD ["/bin/bash"]' - "$IMAGE"
echo "base image $IMAGE: built in $((SECONDS - started)) s"
