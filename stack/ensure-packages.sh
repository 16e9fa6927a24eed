#!/usr/bin/env bash
# Makes sure the programs the local stack runs are installed.
#
#   stack/ensure-packages.sh [postgres] [redis] [kafka] [mariadb]
#
# No argument = the default stack (postgres, redis, kafka); MariaDB is optional and only checked
# when asked for (mariadb-replica is the same package).
#
# Only installs what is missing. As root on Debian/Ubuntu it runs `apt-get update` once and
# `apt-get install -y` for the missing packages; otherwise it exits non-zero and prints the
# exact command to run, so nothing is installed behind the user's back.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
components=("$@")
[ ${#components[@]} -eq 0 ] && components=(postgres redis kafka)

have() { command -v "$1" >/dev/null 2>&1; }

# Postgres 15+ binaries: Debian keeps them out of PATH, under /usr/lib/postgresql/<major>/bin.
have_postgres() {
  local d major
  for d in /usr/lib/postgresql/*/bin; do
    major="$(basename "$(dirname "$d")")"
    [[ "$major" =~ ^[0-9]+$ ]] && [ "$major" -ge 15 ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && return 0
  done
  have initdb && have pg_ctl || return 1
  major="$(pg_ctl --version | grep -oE '[0-9]+' | head -1)"
  [ "${major:-0}" -ge 15 ]
}

# Kafka 4 brokers need Java 17 or newer.
have_java17() {
  have java || return 1
  local v
  v="$(java -version 2>&1 | sed -nE 's/.*version "([0-9]+)(\.[0-9]+)*.*".*/\1/p' | head -1)"
  [ "${v:-0}" -ge 17 ]
}

have_kafka_jars() { compgen -G "$here/kafka/lib/kafka_2.13-*.jar" >/dev/null; }

# Debian keeps mariadbd in /usr/sbin, off a normal user's PATH. The stack also needs the installer,
# and the client and dump tool (to seed the replica), which mariadb-server pulls in.
have_mariadb() {
  { have mariadbd || [ -x /usr/sbin/mariadbd ]; } && have mariadb-install-db && have mariadb && have mariadb-dump
}

missing=()      # human names, for messages
packages=()     # apt package names (postgres is resolved after apt-get update)
need_pg=0
for c in "${components[@]}"; do
  case "$c" in
    postgres) have_postgres || { missing+=("postgresql>=15"); need_pg=1; } ;;
    redis)    have redis-server || { missing+=("redis-server"); packages+=(redis-server); } ;;
    kafka)
      have_java17 || { missing+=("java>=17"); packages+=(openjdk-17-jre-headless); }
      have_kafka_jars || have mvn || { missing+=("mvn"); packages+=(maven); }
      ;;
    mariadb|mariadb-replica)
      have_mariadb || [[ " ${packages[*]} " == *" mariadb-server "* ]] || { missing+=("mariadb-server"); packages+=(mariadb-server); }
      ;;
    *) echo "ensure-packages: unknown component '$c' (expected postgres, redis, kafka, mariadb)" >&2; exit 2 ;;
  esac
done

[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ] || ! have apt-get; then
  pg_pkg=""; [ $need_pg -eq 1 ] && pg_pkg=" postgresql-15"
  echo "ensure-packages: missing ${missing[*]}." >&2
  if have apt-get; then
    echo "ensure-packages: install them with:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y${pg_pkg}${packages[*]:+ ${packages[*]}}" >&2
    [ $need_pg -eq 1 ] && echo "  (use 'postgresql' instead of 'postgresql-15' if your release has no postgresql-15 package)" >&2
  else
    echo "ensure-packages: install PostgreSQL 15+, redis-server, a Java 17+ runtime and Maven (and MariaDB 10.11+ server" >&2
    echo "  and client for the optional MariaDB services) with your package manager," >&2
    echo "  or point Sluice at existing services with DATABASE_URL, REDIS_URL, KAFKA_BROKERS (and MYSQL_URL)." >&2
  fi
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
echo "ensure-packages: installing missing ${missing[*]} with apt-get (this takes a minute)..."
# Wait for a concurrent apt/dpkg run instead of failing on its lock.
apt_opts=(-o DPkg::Lock::Timeout=600 -q)
apt-get "${apt_opts[@]}" update
if [ $need_pg -eq 1 ]; then
  if apt-cache show postgresql-15 >/dev/null 2>&1; then packages+=(postgresql-15); else packages+=(postgresql); fi
fi
# --no-upgrade: never upgrade something already installed as a side effect.
apt-get "${apt_opts[@]}" install -y --no-install-recommends --no-upgrade "${packages[@]}"

for c in "${components[@]}"; do
  case "$c" in
    postgres) have_postgres || { echo "ensure-packages: PostgreSQL 15+ still not found after install" >&2; exit 1; } ;;
    redis) have redis-server || { echo "ensure-packages: redis-server still not found after install" >&2; exit 1; } ;;
    kafka) have_java17 || { echo "ensure-packages: java 17+ still not the default 'java' after install (see update-alternatives --config java)" >&2; exit 1; } ;;
    mariadb|mariadb-replica) have_mariadb || { echo "ensure-packages: mariadbd, mariadb-install-db, mariadb or mariadb-dump still not found after install" >&2; exit 1; } ;;
  esac
done
echo "ensure-packages: done."
