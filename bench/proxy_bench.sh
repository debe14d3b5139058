#!/usr/bin/env bash
# Gateway proxy overhead, measured in one run against one test upstream:
#   1. direct   : wrk → upstream
#   2. nginx    : wrk → nginx proxy_pass (keep-alive upstream pool) → upstream
#   3. gateway  : wrk → pai-gateway → upstream
#   4. +budgets : the same gateway, an agent with every budget and limit on (none refuses)
#   5. +guard   : the same gateway, an agent with the builtin guard on prompts and responses
#   6. -audit   : a second gateway with --no-audit (rows 3-5 write the audit chain and hold
#                 each response until its record is written: --audit-sync group, the default,
#                 which syncs within 10 ms)
#   7. strict   : a third gateway with --audit-sync strict (each response waits for its
#                 record's fdatasync)
#   8. probe    : no proxy: build/bench/sync_probe appends a 512-byte record and fdatasyncs it,
#                 2,000 times, in the directory of the gateways' state (the floor under strict)
# Access logging is off in both proxies (nginx: access_log off; gateway: --no-access-log).
# The upstream is nginx answering every POST /v1/chat/completions with a fixed OpenAI
# chat.completion object (non-streaming). Same connections (64), same duration, same body.
# Prints requests/s, p50 and p99 latency and the server's CPU time per request per setup, the
# gateway/nginx ratios, and issue 13's targets checked against this run (64 connections: the
# throughput ratios; 1 connection: the latency added over direct).
#
#   bench/proxy_bench.sh [--duration 15s] [--connections 64] [--threads 1] [--rounds 1] [--allocs]
# --rounds N runs the seven rows N times, each round starting one row later, and prints each
# column's median over the rounds (and the ratios of those medians): on a shared machine whose
# speed drifts between runs, rows measured in turn see the same drift.
# --allocs loads bench/alloc_counter.cc into the gateways (LD_PRELOAD) and adds their C++
# allocations per request to each gateway row (it slows them: compare CPU without it).
# Needs: scripts/install-deps.sh --bench, and a built gateway and build/bench/sync_probe
# (scripts/build.sh builds both).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=15s
CONNS=64
ALLOCS=""
ROUNDS=1
WORKERS=1  # nginx worker_processes and pai-gateway --threads (same for both proxies)
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) DURATION="$2"; shift 2 ;;
    --connections) CONNS="$2"; shift 2 ;;
    --threads) WORKERS="$2"; shift 2 ;;
    --rounds) ROUNDS="$2"; shift 2 ;;
    --allocs) ALLOCS=1; shift ;;
    *) echo "proxy_bench.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
GATEWAY="${PAI_GATEWAY_BIN:-build/src/cli/pai-gateway}"
SYNC_PROBE="${PAI_SYNC_PROBE_BIN:-build/bench/sync_probe}"
[ -x "$GATEWAY" ] && [ -x "$SYNC_PROBE" ] ||
  { echo "proxy_bench.sh: build the gateway and build/bench/sync_probe first (scripts/build.sh)" >&2; exit 2; }
command -v wrk >/dev/null && command -v nginx >/dev/null ||
  { echo "proxy_bench.sh: run scripts/install-deps.sh --bench" >&2; exit 2; }

source bench/bench_lib.sh  # bench_workdir, free_port, write_*_conf, write_gateway_yaml
bench_workdir pai-bench
PRELOAD=()
if [ -n "$ALLOCS" ]; then
  g++ -O2 -shared -fPIC bench/alloc_counter.cc -o "$WORK/alloc_counter.so"
  export PAI_ALLOC_COUNTER_OUT="$WORK/allocs"
  PRELOAD=(env "LD_PRELOAD=$WORK/alloc_counter.so")
fi

UP_PORT=$(free_port)
NGX_PORT=$(free_port)


mkdir -p "$WORK/up" "$WORK/ngx"
write_upstream_conf "$WORK/up" "$UP_PORT"
write_proxy_conf "$WORK/ngx" "$NGX_PORT" "$UP_PORT" "$WORKERS"
nginx -c "$WORK/up/nginx.conf" -g 'daemon off;' & pids+=($!)
nginx -c "$WORK/ngx/nginx.conf" -g 'daemon off;' & pids+=($!)

write_gateway_yaml "$WORK/gateway.yaml" "$UP_PORT"
TOKEN=$("$GATEWAY" token --agent default/bench -f "$WORK/gateway.yaml" --state-dir "$WORK/state")
TOKEN_BUDGETS=$("$GATEWAY" token --agent default/bench-budgets -f "$WORK/gateway.yaml" --state-dir "$WORK/state")
TOKEN_GUARD=$("$GATEWAY" token --agent default/bench-guard -f "$WORK/gateway.yaml" --state-dir "$WORK/state")
${PAI_GATEWAY_WRAPPER:-} "${PRELOAD[@]}" "$GATEWAY" -f "$WORK/gateway.yaml" --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 \
  --state-dir "$WORK/state" --threads "$WORKERS" --no-access-log ${PAI_BENCH_GATEWAY_ARGS:-} \
  2> "$WORK/gateway.log" & pids+=($!)
# The same gateway without the audit chain (its own state directory, same tokens).
cp -r "$WORK/state" "$WORK/state-noaudit"
"${PRELOAD[@]}" "$GATEWAY" -f "$WORK/gateway.yaml" --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 \
  --state-dir "$WORK/state-noaudit" --threads "$WORKERS" --no-access-log --no-audit \
  2> "$WORK/gateway-noaudit.log" & pids+=($!)
# The same gateway with the strict audit mode (fdatasync before each success).
cp -r "$WORK/state-noaudit" "$WORK/state-strict"
"${PRELOAD[@]}" "$GATEWAY" -f "$WORK/gateway.yaml" --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 \
  --state-dir "$WORK/state-strict" --threads "$WORKERS" --no-access-log --audit-sync strict \
  2> "$WORK/gateway-strict.log" & pids+=($!)
listen_port() {  # the port of the "listening" JSON line a gateway logs
  local port=""
  for _ in $(seq 1 200); do
    port=$(grep -o '"listen":"127.0.0.1:[0-9]*' "$1" | head -1 | cut -d: -f3 || true)
    [ -n "$port" ] && break
    sleep 0.05
  done
  [ -n "$port" ] || { echo "gateway did not start" >&2; cat "$1" >&2; exit 1; }
  echo "$port"
}
GW_PORT=$(listen_port "$WORK/gateway.log")
GW2_PORT=$(listen_port "$WORK/gateway-noaudit.log")
GW3_PORT=$(listen_port "$WORK/gateway-strict.log")
for p in $UP_PORT $NGX_PORT; do
  for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$p/" && break; sleep 0.05; done
done

BODY='{"model":"MODEL","messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Say hello in one short sentence, please."}],"temperature":0.2}'
make_script() {  # $1 model, $2 authorization
  cat <<LUA
wrk.method = "POST"
wrk.body = '${BODY/MODEL/$1}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "$2"
LUA
}
make_script gpt-4o-mini "Bearer sk-bench-provider-key" > "$WORK/direct.lua"
make_script up/gpt-4o-mini "Bearer $TOKEN" > "$WORK/gateway.lua"
make_script up/gpt-4o-mini "Bearer $TOKEN_BUDGETS" > "$WORK/budgets.lua"
make_script up/gpt-4o-mini "Bearer $TOKEN_GUARD" > "$WORK/guard.lua"

listen_pids() {  # $1 port → the processes listening on it
  ss -Hltnp "sport = :$1" | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u
}
alloc_mark() {  # $1 port: each gateway listening there appends its allocation totals
  local p
  [ -n "$ALLOCS" ] || return 0
  for p in $(listen_pids "$1"); do [ -f "$PAI_ALLOC_COUNTER_OUT.$p" ] || : > "$PAI_ALLOC_COUNTER_OUT.$p"; kill -USR2 "$p"; done
}
alloc_count() {  # $1 port, $2 requests → allocations per request since the previous mark
  local p f total=0
  [ -n "$ALLOCS" ] || { echo "-"; return; }
  for p in $(listen_pids "$1"); do
    f="$PAI_ALLOC_COUNTER_OUT.$p"
    for _ in $(seq 1 100); do [ "$(wc -l < "$f")" -ge 2 ] && break; sleep 0.01; done
    total=$((total + $(tail -n 2 "$f" | awk 'NR==1 {a=$1} NR==2 {print $1 - a}')))
  done
  awk -v t="$total" -v n="$2" 'BEGIN { printf "%.1f", t / n }'
}
cpu_ticks() {  # $1 port → user+system CPU ticks of every process listening on it
  local t=0 p
  for p in $(listen_pids "$1"); do
    t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat")))
  done
  echo "$t"
}
run() {  # $1 name, $2 url, $3 script → "rps p50_ms p99_ms cpu_us_per_request"
  wrk -t1 -c"$CONNS" -d2s -s "$3" "$2" >/dev/null  # warm-up (pools, caches)
  local out port c0 c1
  port=$(echo "$2" | sed -E 's|^http://[^:]*:([0-9]+)/.*|\1|')
  [ "$1" = direct ] || [ "$1" = nginx ] || alloc_mark "$port"
  c0=$(cpu_ticks "$port")
  out=$(wrk -t1 -c"$CONNS" -d"$DURATION" --latency -s "$3" "$2")
  c1=$(cpu_ticks "$port")
  echo "$out" > "$WORK/$1.wrk"
  local rps p50 p99 non2xx
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p50=$(echo "$out" | awk '$1=="50%" {print $2}')
  p99=$(echo "$out" | awk '$1=="99%" {print $2}')
  non2xx=$(echo "$out" | awk '/Non-2xx/ {print $NF}')
  if [ -n "$non2xx" ]; then
    # Say what the failures were: one more request, its status and body.
    echo "$1: $non2xx non-2xx responses; one more request answers:" >&2
    curl -s -w ' (HTTP %{http_code})\n' -H "$(awk -F'"' '/Authorization/ {print "authorization: " $4; exit}' "$3")" \
      -H 'content-type: application/json' --data "$(awk -F"'" '/wrk.body/ {print $2; exit}' "$3")" "$2" >&2 || true
    tail -n 5 "$WORK/gateway.log" >&2
    exit 1
  fi
  # CPU time the server (proxy, or the upstream in the direct row) spent per request.
  local n cpu
  n=$(echo "$out" | awk '/requests in/ {print $1}')
  cpu=$(awk -v d=$((c1 - c0)) -v n="$n" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.1f", d * 1e6 / hz / n }')
  local allocs="-"
  if [ "$1" != direct ] && [ "$1" != nginx ]; then
    alloc_mark "$port"
    allocs=$(alloc_count "$port" "$n")
  fi
  echo "$rps $(to_ms "$p50") $(to_ms "$p99") $cpu $allocs"
}
to_ms() {  # wrk prints 512.00us / 1.20ms / 1.01s
  awk -v v="$1" 'BEGIN { n=v+0; if (v ~ /us$/) n/=1000; else if (v ~ /ms$/) n=n; else if (v ~ /s$/) n*=1000; printf "%.3f", n }'
}

# Profiling aid: PAI_BENCH_ONLY_GATEWAY="gateway budgets guard noaudit strict" runs those rows
# alone, in that order (1: gateway), and prints "row requests/s p50 p99 CPU-us/request allocs"
# per row.
if [ -n "${PAI_BENCH_ONLY_GATEWAY:-}" ]; then
  for row in ${PAI_BENCH_ONLY_GATEWAY/#1/gateway}; do
    case "$row" in
      noaudit) echo "$row $(run "$row" "http://127.0.0.1:$GW2_PORT/v1/chat/completions" "$WORK/gateway.lua")" ;;
      strict) echo "$row $(run "$row" "http://127.0.0.1:$GW3_PORT/v1/chat/completions" "$WORK/gateway.lua")" ;;
      *) echo "$row $(run "$row" "http://127.0.0.1:$GW_PORT/v1/chat/completions" "$WORK/$row.lua")" ;;
    esac
  done
  exit 0
fi
mkdir -p "$WORK/rounds"
probe() {  # the synced-write probe → "syncs/s p50_ms p99_ms - -"
  local p50 p99 rate
  read -r p50 p99 rate < <("$SYNC_PROBE" --dir "$WORK" --count 2000 --bytes 512)
  awk -v a="$p50" -v b="$p99" -v r="$rate" 'BEGIN { printf "%s %.3f %.3f - -\n", r, a / 1000, b / 1000 }'
}
run_row() {  # $1 row: one measurement appended to $WORK/rounds/<row>
  case "$1" in
    probe) probe ;;
    direct) run direct "http://127.0.0.1:$UP_PORT/v1/chat/completions" "$WORK/direct.lua" ;;
    nginx) run nginx "http://127.0.0.1:$NGX_PORT/v1/chat/completions" "$WORK/direct.lua" ;;
    noaudit) run noaudit "http://127.0.0.1:$GW2_PORT/v1/chat/completions" "$WORK/gateway.lua" ;;
    strict) run strict "http://127.0.0.1:$GW3_PORT/v1/chat/completions" "$WORK/gateway.lua" ;;
    *) run "$1" "http://127.0.0.1:$GW_PORT/v1/chat/completions" "$WORK/$1.lua" ;;
  esac >> "$WORK/rounds/$1"
}
ROWS=(direct nginx gateway budgets guard noaudit strict probe)
for r in $(seq 0 $((ROUNDS - 1))); do
  # Each round starts one row later, so that no row always runs in the same place.
  for i in "${!ROWS[@]}"; do run_row "${ROWS[$(((i + r) % ${#ROWS[@]}))]}"; done
done
median() {  # $1 row → "rps p50 p99 cpu allocs": each column's median over the rounds
  local col out=()
  for col in 1 2 3 4 5; do
    out+=("$(awk -v c="$col" '{print $c}' "$WORK/rounds/$1" | sort -g |
      awk '{v[NR]=$1} END {
        if (v[1] == "-") print "-"  # not measured (allocations without --allocs; the probe)
        else print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')")
  done
  echo "${out[@]}"
}
read -r D_RPS D_P50 D_P99 D_CPU D_ALLOC < <(median direct)
read -r N_RPS N_P50 N_P99 N_CPU N_ALLOC < <(median nginx)
read -r G_RPS G_P50 G_P99 G_CPU G_ALLOC < <(median gateway)
read -r B_RPS B_P50 B_P99 B_CPU B_ALLOC < <(median budgets)
read -r U_RPS U_P50 U_P99 U_CPU U_ALLOC < <(median guard)
read -r A_RPS A_P50 A_P99 A_CPU A_ALLOC < <(median noaudit)
read -r S_RPS S_P50 S_P99 S_CPU S_ALLOC < <(median strict)
read -r P_RPS P_P50 P_P99 _ _ < <(median probe)

printf '\n%-9s %12s %10s %10s %14s %14s\n' setup "requests/s" "p50 ms" "p99 ms" "CPU us/request" "allocs/request"
printf '%-9s %12.0f %10.3f %10.3f %14.1f %14s\n' direct "$D_RPS" "$D_P50" "$D_P99" "$D_CPU" "$D_ALLOC"
printf '%-9s %12.0f %10.3f %10.3f %14.1f %14s\n' nginx "$N_RPS" "$N_P50" "$N_P99" "$N_CPU" "$N_ALLOC"
printf '%-9s %12.0f %10.3f %10.3f %14.1f %14s\n' gateway "$G_RPS" "$G_P50" "$G_P99" "$G_CPU" "$G_ALLOC"
printf '%-9s %12.0f %10.3f %10.3f %14.1f %14s\n' +budgets "$B_RPS" "$B_P50" "$B_P99" "$B_CPU" "$B_ALLOC"
printf '%-9s %12.0f %10.3f %10.3f %14.1f %14s\n' +guard "$U_RPS" "$U_P50" "$U_P99" "$U_CPU" "$U_ALLOC"
printf '%-9s %12.0f %10.3f %10.3f %14.1f %14s\n' -audit "$A_RPS" "$A_P50" "$A_P99" "$A_CPU" "$A_ALLOC"
printf '%-9s %12.0f %10.3f %10.3f %14.1f %14s\n' strict "$S_RPS" "$S_P50" "$S_P99" "$S_CPU" "$S_ALLOC"
printf '%-9s %12.0f %10.3f %10.3f %14s %14s   (syncs/s; a 512-byte append + fdatasync)\n' probe "$P_RPS" "$P_P50" "$P_P99" - -
awk -v g="$G_RPS" -v n="$N_RPS" -v gp="$G_P99" -v np="$N_P99" -v gp5="$G_P50" -v np5="$N_P50" 'BEGIN {
  printf "\ngateway/nginx throughput ratio: %.2f\n", g / n
  printf "gateway/nginx p50 latency ratio: %.2f   p99 latency ratio: %.2f\n", gp5 / np5, gp / np }'
awk -v b="$B_RPS" -v g="$G_RPS" 'BEGIN { printf "gateway with budgets on / off throughput ratio: %.2f\n", b / g }'
awk -v u="$U_RPS" -v g="$G_RPS" 'BEGIN { printf "gateway with builtin guard on / off throughput ratio: %.2f\n", u / g }'
awk -v g="$G_RPS" -v a="$A_RPS" -v gp="$G_P50" -v ap="$A_P50" 'BEGIN { printf "gateway with audit chain on / off throughput ratio: %.2f (p50 latency %.2fx)\n", g / a, gp / ap }'
awk -v s="$S_RPS" -v g="$G_RPS" -v sp="$S_P50" -v gp="$G_P50" 'BEGIN { printf "strict / group audit sync throughput ratio: %.2f (p50 latency %.2fx)\n", s / g, sp / gp }'
awk -v b="$B_RPS" -v n="$N_RPS" -v u="$U_RPS" 'BEGIN { printf "gateway with budgets / nginx throughput ratio: %.2f   with the builtin guard / nginx: %.2f\n", b / n, u / n }'
echo "(connections=$CONNS duration=$DURATION rounds=$ROUNDS (medians) proxy workers=$WORKERS, $(nproc) cores shared by wrk, proxy and upstream)"

# Issue 13's item 3, checked against this run: throughput ratios at 64 connections or more,
# latency added over the direct row at one connection (the default policy is the +budgets row:
# authentication, budgets set, guard off, audit on).
echo
if [ "$CONNS" -ge 64 ]; then
  awk -v b="$B_RPS" -v u="$U_RPS" -v n="$N_RPS" 'BEGIN {
    printf "target: default policy (+budgets) / nginx >= 0.80: %.2f %s\n", b / n, ((b / n >= 0.8) ? "met" : "NOT met")
    printf "target: builtin guard on prompts / nginx >= 0.70: %.2f %s\n", u / n, ((u / n >= 0.7) ? "met" : "NOT met") }'
elif [ "$CONNS" -eq 1 ]; then
  awk -v d5="$D_P50" -v d9="$D_P99" -v n5="$N_P50" -v n9="$N_P99" -v b5="$B_P50" -v b9="$B_P99" \
      -v s5="$S_P50" -v p5="$P_P50" 'BEGIN {
    printf "added over direct, p50 / p99: nginx %.0f / %.0f us\n", (n5 - d5) * 1000, (n9 - d9) * 1000
    printf "target: default policy adds <= 40 us at p50: %.0f us %s\n", (b5 - d5) * 1000, (((b5 - d5) * 1000 <= 40) ? "met" : "NOT met")
    printf "target: default policy adds <= 250 us at p99: %.0f us %s\n", (b9 - d9) * 1000, (((b9 - d9) * 1000 <= 250) ? "met" : "NOT met")
    printf "target: strict adds <= the probe'"'"'s p50 (%.0f us) + 40 us at p50: %.0f us %s\n", p5 * 1000, (s5 - d5) * 1000, (((s5 - d5) <= p5 + 0.040) ? "met" : "NOT met") }'
fi
