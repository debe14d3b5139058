# Shared by the proxy benchmarks (proxy_bench.sh, instr_bench.sh): the test upstream and the
# gateway's configuration, so that both measure the same thing. Source it; it defines functions
# only.

# bench_workdir PREFIX: a scratch directory ($WORK), removed at exit after every process listed
# in $pids is stopped.
bench_workdir() {
  WORK=$(mktemp -d "/tmp/$1-XXXXXX")
  pids=()
  trap bench_cleanup EXIT
}
bench_cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}

free_port() {  # a random unused loopback port
  # Below the ephemeral range (32768-60999 here), where wrk's and the proxies' own connections
  # take their ports: a port free when chosen could otherwise be taken before its server binds.
  local p
  while :; do
    p=$((20000 + RANDOM % 12000))
    [ -z "$(ss -Htan "sport = :$p")" ] && { echo "$p"; return; }
  done
}

# write_upstream_conf DIR PORT: an nginx config (DIR/nginx.conf) answering every request on PORT
# with a fixed OpenAI chat.completion object (API reference, "The chat completion object").
write_upstream_conf() {
  local dir=$1 port=$2
  local RESPONSE='{"id":"chatcmpl-bench","object":"chat.completion","created":1700000000,"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"Hello! How can I help you today?","refusal":null},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":19,"completion_tokens":9,"total_tokens":28},"system_fingerprint":"fp_bench"}'
  cat > "$dir/nginx.conf" <<CONF
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $dir;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$port;
    location / {
      default_type application/json;
      return 200 '$RESPONSE';
    }
  }
}
CONF
}

# write_proxy_conf DIR PORT UPSTREAM_PORT WORKERS: nginx proxy_pass (DIR/nginx.conf) on PORT in
# front of the upstream, with a keep-alive pool and the provider key set, as the gateway does.
write_proxy_conf() {
  local dir=$1 port=$2 up_port=$3 workers=$4
  cat > "$dir/nginx.conf" <<CONF
worker_processes $workers;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $dir;
  proxy_temp_path $dir;
  keepalive_requests 1000000;
  upstream up { server 127.0.0.1:$up_port; keepalive 256; }
  server {
    listen 127.0.0.1:$port;
    location / {
      proxy_pass http://up;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Authorization "Bearer sk-bench-provider-key";
    }
  }
}
CONF
}

# write_gateway_yaml FILE UPSTREAM_PORT: the gateway's configuration — a ModelProvider in front
# of the upstream and three agents: bench (no limit), bench-budgets (every budget and limit on,
# high enough that none refuses) and bench-guard (the builtin guard on prompts and responses).
write_gateway_yaml() {
  local file=$1 UP_PORT=$2
  cat > "$file" <<YAML
apiVersion: v1
kind: Secret
metadata: {name: bench-key}
stringData: {api-key: sk-bench-provider-key}
---
apiVersion: pai.io/v1
kind: ModelProvider
metadata: {name: up}
spec: {provider: openai, apiKeySecretRef: {name: bench-key}, baseURL: "http://127.0.0.1:$UP_PORT/v1"}
---
apiVersion: pai.io/v1
kind: Agent
metadata: {name: bench}
spec: {models: [up/gpt-4o-mini]}
---
# Same, with every budget and limit on (high enough that nothing is refused): each request is
# admitted, reserved, capped and settled.
apiVersion: pai.io/v1
kind: Agent
metadata: {name: bench-budgets}
spec:
  models: [up/gpt-4o-mini]
  tokens: {maxPerDay: 1000000000000, maxPerRequest: 100000}
  rateLimits: {maxRequestsPerMinute: 1000000000, maxConcurrentRequests: 100000, maxCostPerDayUSD: 1000000000}
---
# Same as bench, with the builtin prompt-injection guard on prompts and responses (nothing in
# the benchmark prompt is flagged, so every request is classified twice and forwarded).
apiVersion: pai.io/v1
kind: GuardBinding
metadata: {name: bench-guard}
spec: {classifier: {type: builtin}, enforcement: enforce}
---
apiVersion: pai.io/v1
kind: Agent
metadata: {name: bench-guard}
spec:
  models: [up/gpt-4o-mini]
  guards: [{binding: bench-guard, scan: {prompts: true, responses: true}}]
YAML
}
