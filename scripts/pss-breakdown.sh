#!/usr/bin/env bash
# pss-breakdown.sh PID... | --cgroup DIR
#
# Where a sandbox's memory goes: for each process, its proportional set size (PSS: shared pages
# divided among their users, so the figures add up across processes) and RSS, split into
#   guest RAM   the guest's memory (the memfd backend shared with virtiofsd, or QEMU's anon RAM)
#   TCG cache   the translation buffer (anonymous rwx mapping; only with -accel tcg)
#   heap        [heap] and the other anonymous mappings
#   files       mapped binaries and libraries
# Example: scripts/pss-breakdown.sh --cgroup /sys/fs/cgroup/kata-sentry/<sandbox-id>
#          scripts/pss-breakdown.sh $(pgrep -f qemu-system)
set -euo pipefail
usage() { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
[ $# -ge 1 ] || usage
case "$1" in
  -h|--help) usage ;;
  --cgroup)
    [ $# -eq 2 ] || usage
    [ -r "$2/cgroup.procs" ] || { echo "pss-breakdown: $2/cgroup.procs: not a readable cgroup" >&2; exit 1; }
    mapfile -t pids < <(cat "$2/cgroup.procs" $(find "$2" -mindepth 2 -name cgroup.procs 2>/dev/null))
    ;;
  *) pids=("$@") ;;
esac
[ ${#pids[@]} -gt 0 ] || { echo "pss-breakdown: no process to measure" >&2; exit 1; }

printf '%-8s %-16s %13s %13s %13s %13s  %s\n' pid command "guest RAM" "TCG cache" heap files "PSS (RSS)"
for pid in "${pids[@]}"; do
  [ -r "/proc/$pid/smaps" ] || { echo "pss-breakdown: /proc/$pid/smaps: no such process or not readable" >&2; exit 1; }
  comm=$(cat "/proc/$pid/comm")
  awk -v pid="$pid" -v comm="$comm" '
    # A mapping header: "start-end perms offset dev inode [path]"
    # A mapping header: "start-end perms offset dev inode [path]"; its Size: line comes next.
    /^[0-9a-f]+-[0-9a-f]+ / { perms = $2; path = $6; next }
    /^Size:/ {
      size_kb = $2
      if (path ~ /memfd:/ || path ~ /^\/dev\/shm/) kind = "guest"
      else if (perms ~ /x/ && path == "" && size_kb >= 16384) kind = "tcg"
      else if (path == "" && size_kb >= 65536 && perms ~ /^rw/) kind = "guest"   # anon guest RAM, no memfd
      else if (path == "" || path ~ /^\[/) kind = "heap"
      else kind = "files"
      next
    }
    /^Pss:/ { pss[kind] += $2; total += $2 }
    /^Rss:/ { rss += $2 }
    END {
      printf "%-8s %-16s %9.1f MiB %9.1f MiB %9.1f MiB %9.1f MiB %6.1f (%.1f) MiB\n", pid, comm,
             pss["guest"] / 1024, pss["tcg"] / 1024, pss["heap"] / 1024, pss["files"] / 1024, total / 1024, rss / 1024
    }' "/proc/$pid/smaps"
done
