#!/usr/bin/env bash
# User-space instructions per proxied request, counted by valgrind's callgrind: the gateway's
# rows of bench/proxy_bench.sh (gateway, +budgets, -audit) and nginx proxy_pass, each in front of
# the same fixed-JSON upstream (nginx). Unlike requests/s and CPU time, which move by ±30 %
# between identical runs on this shared machine, the count is the same from run to run: it is
# the steady measure of what a change to the request path saves in user space (the kernel's
# share — system calls, loopback TCP — is not counted; `strace -c` / `perf stat -e
# 'syscalls:sys_enter_*'` count those).
#
#   bench/instr_bench.sh [--requests-seconds 10] [--keep DIR] [rows...]
#     rows: nginx gateway budgets guard noaudit; --keep DIR keeps each row's profile as DIR/<row>.out
#     (read it with `callgrind_annotate --inclusive=yes DIR/<row>.out`)
#
# The gateway is built into build-valgrind/ (scripts/build.sh, -DPAI_NATIVE_JSON=OFF: valgrind
# does not decode the AVX-512 instructions -march=native emits here). Under callgrind SHA-256
# runs without the SHA extensions, so the audit MAC and the token hash count ~4x what they
# execute natively. Only the measured window is counted (instrumentation is switched on after
# a warm-up and off before the dump).
# Needs: scripts/install-deps.sh --bench (wrk, nginx, valgrind).
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_RUN=10
KEEP=
rows=()
while [ $# -gt 0 ]; do
  case "$1" in
    --requests-seconds) SECONDS_RUN="$2"; shift 2 ;;
    --keep) KEEP="$2"; mkdir -p "$KEEP"; shift 2 ;;
    nginx|gateway|budgets|guard|noaudit) rows+=("$1"); shift ;;
    *) echo "instr_bench.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ ${#rows[@]} -gt 0 ] || rows=(nginx gateway budgets guard noaudit)
for tool in valgrind callgrind_control callgrind_annotate wrk nginx; do
  command -v "$tool" >/dev/null || { echo "instr_bench.sh: run scripts/install-deps.sh --bench" >&2; exit 2; }
done
PAI_BUILD_DIR=build-valgrind PAI_TARGETS=pai-gateway scripts/build.sh -DPAI_NATIVE_JSON=OFF \
  -DPAI_BUILD_BENCH=OFF >/dev/null
GATEWAY=build-valgrind/src/cli/pai-gateway

source bench/bench_lib.sh  # bench_workdir, free_port, write_*_conf, write_gateway_yaml
bench_workdir pai-instr
wait_port() {  # $1 port
  for _ in $(seq 1 600); do
    [ -n "$(ss -Hltn "sport = :$1")" ] && return 0
    sleep 0.1
  done
  echo "instr_bench.sh: nothing listens on $1" >&2
  exit 1
}
UP_PORT=$(free_port)
mkdir -p "$WORK/up"
write_upstream_conf "$WORK/up" "$UP_PORT"  # bench/proxy_bench.sh's upstream
nginx -c "$WORK/up/nginx.conf" -g 'daemon off;' & pids+=($!)
wait_port "$UP_PORT"
write_gateway_yaml "$WORK/gateway.yaml" "$UP_PORT"

measure() {  # $1 row → "row requests instructions instructions/request"
  local row=$1 port auth model out
  port=$(free_port)
  local vg=(valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$WORK/$row.out")
  if [ "$row" = nginx ]; then
    mkdir -p "$WORK/proxy"
    write_proxy_conf "$WORK/proxy" "$port" "$UP_PORT" 1
    # One process (no master) for valgrind to follow.
    "${vg[@]}" nginx -c "$WORK/proxy/nginx.conf" -g 'daemon off; master_process off;' \
      2>"$WORK/$row.vg" & pids+=($!)
    auth="Bearer sk-bench-provider-key"
    model=gpt-4o-mini
  else
    local agent=bench flags=()
    [ "$row" = budgets ] && agent=bench-budgets
    [ "$row" = guard ] && agent=bench-guard
    [ "$row" = noaudit ] && flags=(--no-audit)
    rm -rf "$WORK/state"
    auth="Bearer $("$GATEWAY" token --agent "default/$agent" -f "$WORK/gateway.yaml" --state-dir "$WORK/state")"
    "${vg[@]}" "$GATEWAY" -f "$WORK/gateway.yaml" --listen "127.0.0.1:$port" --admin-listen 127.0.0.1:0 \
      --state-dir "$WORK/state" --threads 1 --no-access-log "${flags[@]}" 2>"$WORK/$row.vg" & pids+=($!)
    model=up/gpt-4o-mini
  fi
  local vpid=$!
  wait_port "$port"
  cat > "$WORK/$row.lua" <<LUA
wrk.method = "POST"
wrk.body = '{"model":"$model","messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Say hello in one short sentence, please."}],"temperature":0.2}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "$auth"
LUA
  local url="http://127.0.0.1:$port/v1/chat/completions"
  wrk -t1 -c4 -d3s -s "$WORK/$row.lua" "$url" >/dev/null  # warm-up: pools, caches, allocator
  callgrind_control -i on "$vpid" >/dev/null 2>&1
  out=$(wrk -t1 -c4 -d"${SECONDS_RUN}s" -s "$WORK/$row.lua" "$url")
  callgrind_control -i off "$vpid" >/dev/null 2>&1
  if echo "$out" | grep -q "Non-2xx"; then
    echo "instr_bench.sh: $row answered errors" >&2
    exit 1
  fi
  local n ir
  n=$(echo "$out" | awk '/requests in/ {print $1}')
  callgrind_control -d "$vpid" >/dev/null 2>&1
  for _ in $(seq 1 100); do [ -s "$WORK/$row.out.1" ] && break; sleep 0.1; done
  ir=$(callgrind_annotate "$WORK/$row.out.1" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
  [ -z "$KEEP" ] || cp "$WORK/$row.out.1" "$KEEP/$row.out"
  kill "$vpid" 2>/dev/null || true
  echo "$row $n $ir $((ir / n))"
}

printf '%-9s %10s %16s %14s\n' row requests instructions "per request"
for row in "${rows[@]}"; do
  read -r r n ir per < <(measure "$row")
  printf '%-9s %10s %16s %14s\n' "$r" "$n" "$ir" "$per"
done
