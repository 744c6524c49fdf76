#!/bin/sh
# Start of a lab server: let `deploy` use the engine's socket and live in its mounted home
# (same absolute path as on the machine), then run sshd in the foreground, logging to stderr.
# Arguments are passed on to sshd (e.g. `-o AllowTcpForwarding=no` for a hardened server).
set -eu
: "${SSHD_PORT:?}" "${DEPLOY_HOME:?}"
gid=$(stat -c %g /var/run/docker.sock)
group=$(getent group "$gid" | cut -d: -f1)
if [ -z "$group" ]; then
    groupadd --gid "$gid" docker-host
    group=docker-host
fi
usermod --append --groups "$group" --home "$DEPLOY_HOME" deploy
mkdir -p /run/sshd
chmod 0755 /run/sshd
exec /usr/sbin/sshd -D -e -f /etc/ssh/lab_sshd_config -p "$SSHD_PORT" "$@"
