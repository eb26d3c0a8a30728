#!/usr/bin/env bash
# Makes sure PostgreSQL, MariaDB and Redis are up on their standard local ports, starting
# any that stopped (the commands this machine kind documents). Idempotent.
set -uo pipefail

up() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for() {
  local name=$1 port=$2
  for _ in $(seq 1 60); do
    if up "$port"; then echo "services: $name is up on $port"; return 0; fi
    sleep 0.5
  done
  echo "services: $name is NOT reachable on 127.0.0.1:$port" >&2
  return 1
}

if ! up 5432 && command -v pg_ctlcluster >/dev/null; then
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
fi
if ! up 3306 && [ -x /usr/sbin/mariadbd ]; then
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd || true
fi
if ! up 6379 && command -v redis-server >/dev/null; then
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
fi

status=0
wait_for PostgreSQL 5432 || status=1
wait_for MariaDB 3306 || status=1
wait_for Redis 6379 || status=1
exit $status
