// Concurrent SSE streams through pai-gateway: memory per open stream and CPU while they tick
// (issue 13, item 3). One run:
//   1. an upstream (a child process) that answers every chat request with an OpenAI
//      chat.completion.chunk stream: the role chunk at once, then one content chunk every
//      --tick-ms to every open stream, until told to finish (then usage and [DONE]);
//   2. pai-gateway in front of it (default policy: audit on, a daily token budget, metrics);
//   3. the gateway's RSS idle (after one warm-up call), then N streams opened (as many as the
//      descriptor limit allows: the gateway holds two descriptors per stream, the client and
//      the upstream one each), RSS once every stream has its first content chunk, the gateway's
//      CPU over --hold-s seconds of ticking, then every stream finished and checked
//      ([DONE] received, no error event).
//
//   node bench/sse_streams.mjs [--streams N] [--tick-ms 1000] [--hold-s 10]
// Needs PAI_GATEWAY_BIN (absolute path), as the integration tests do. Prints one table
// (docs/benchmarks.md, "Concurrent streams").
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import readline from 'node:readline';
import { spawn, fork, execFileSync } from 'node:child_process';

function arg(name, dflt) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
}

// ---- the upstream (child process) ----------------------------------------------------------
if (process.argv[2] === 'upstream') {
  const tickMs = Number(process.argv[3]);
  const open = new Set();
  let finishing = false;
  const chunk = (id, delta, finish = null) => `data: ${JSON.stringify({
    id, object: 'chat.completion.chunk', created: 1, model: 'slow',
    choices: [{ index: 0, delta, finish_reason: finish }],
  })}\n\n`;
  const end = (s) => {
    s.res.write(chunk(s.id, {}, 'stop'));
    s.res.write(`data: ${JSON.stringify({ id: s.id, object: 'chat.completion.chunk', created: 1,
      model: 'slow', choices: [], usage: { prompt_tokens: 9, completion_tokens: s.n,
        total_tokens: 9 + s.n } })}\n\n`);
    s.res.end('data: [DONE]\n\n');
    open.delete(s);
  };
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      const s = { id: `chatcmpl-${Math.random().toString(36).slice(2)}`, res, n: 0 };
      res.write(chunk(s.id, { role: 'assistant', content: '' }));
      if (finishing) { end(s); return; }
      open.add(s);
      res.on('close', () => open.delete(s));
    });
  });
  server.keepAliveTimeout = 0;
  server.maxConnections = 0;
  setInterval(() => {
    for (const s of open) { s.n++; s.res.write(chunk(s.id, { content: 'tick ' })); }
  }, tickMs);
  process.on('message', (m) => {
    if (m === 'finish') { finishing = true; for (const s of [...open]) end(s); }
  });
  server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }));
} else {
  await main();
}

// ---- the bench ----------------------------------------------------------------------------
function procStat(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const rssKiB = Number(status.match(/VmRSS:\s+(\d+)/)[1]);
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);  // utime + stime
  return { rssKiB, cpuS: ticks / 100 };  // USER_HZ is 100 on Linux
}

function nofile() {
  try { return Number(execFileSync('sh', ['-c', 'ulimit -n']).toString().trim()); } catch { return 1024; }
}

async function main() {
  const gwBin = process.env.PAI_GATEWAY_BIN;
  if (!gwBin) throw new Error('PAI_GATEWAY_BIN must name the pai-gateway binary');
  const tickMs = arg('tick-ms', 1000);
  const holdS = arg('hold-s', 10);
  // The gateway holds 2 descriptors per stream; keep 1,000 for everything else.
  const streams = arg('streams', Math.min(9500, Math.floor((nofile() - 1000) / 2)));

  const up = fork(new URL(import.meta.url).pathname, ['upstream', String(tickMs)], { stdio: 'inherit' });
  const { port } = await new Promise((resolve) => up.once('message', resolve));

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pai-sse-bench-'));
  const cfg = path.join(dir, 'gw.yaml');
  fs.writeFileSync(cfg, `apiVersion: v1
kind: Secret
metadata: {name: up-key}
stringData: {api-key: sk-bench-0123456789abcdef}
---
apiVersion: pai.io/v1
kind: ModelProvider
metadata: {name: up}
spec:
  provider: openai
  apiKeySecretRef: {name: up-key, key: api-key}
  baseURL: http://127.0.0.1:${port}/v1
---
apiVersion: pai.io/v1
kind: Agent
metadata: {name: bench, namespace: default}
spec:
  models: [up/slow]
  tokens: {maxPerDay: 100000000000}
`);
  const state = path.join(dir, 'state');
  const token = execFileSync(gwBin, ['token', '--agent', 'default/bench', '-f', cfg, '--state-dir', state])
    .toString().trim();
  const gw = spawn(gwBin, ['-f', cfg, '--state-dir', state, '--listen', '127.0.0.1:0',
    '--admin-listen', '127.0.0.1:0', '--no-access-log'], { stdio: ['ignore', 'ignore', 'pipe'] });
  const listen = await new Promise((resolve, reject) => {
    gw.once('exit', (c) => reject(new Error(`pai-gateway exited ${c}`)));
    readline.createInterface({ input: gw.stderr }).on('line', (l) => {
      try { const r = JSON.parse(l); if (r.msg === 'listening') resolve(r.listen); } catch { /* not JSON */ }
    });
  });
  const [host, gwPort] = [listen.split(':')[0], Number(listen.split(':')[1])];
  const body = JSON.stringify({ model: 'up/slow', stream: true, max_tokens: 4096,
    messages: [{ role: 'user', content: 'stream slowly' }] });

  // One stream: resolves `first` on its first content chunk, `done` when it ends.
  function openStream() {
    let text = '';
    let firstSeen = false;
    let onFirst;
    const first = new Promise((r) => { onFirst = r; });
    const done = new Promise((resolve) => {
      const req = http.request({ host, port: gwPort, path: '/v1/chat/completions', method: 'POST',
        agent: false, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' } },
      (res) => {
        res.setEncoding('utf8');
        res.on('data', (d) => {
          if (text.length < 65536) text += d;
          if (!firstSeen && text.includes('tick')) { firstSeen = true; onFirst(true); }
        });
        res.on('end', () => { onFirst(false); resolve({ status: res.statusCode, text }); });
        res.on('error', (e) => { onFirst(false); resolve({ status: 0, text: String(e) }); });
      });
      req.on('error', (e) => { onFirst(false); resolve({ status: 0, text: String(e) }); });
      req.end(body);
    });
    return { first, done };
  }

  try {
    // Warm-up: one whole call, then the idle figure.
    const warm = openStream();
    await warm.first;
    const idle = procStat(gw.pid);

    const all = [];
    const batch = 500;
    const t0 = performance.now();
    for (let i = 0; i < streams; i += batch) {
      const part = [];
      for (let j = i; j < Math.min(streams, i + batch); ++j) { const s = openStream(); all.push(s); part.push(s.first); }
      await Promise.all(part);
    }
    const firsts = await Promise.all(all.map((s) => s.first));
    const openMs = performance.now() - t0;
    const opened = firsts.filter(Boolean).length;
    const loaded = procStat(gw.pid);
    await new Promise((r) => setTimeout(r, holdS * 1000));  // the hold window is the measurement
    const held = procStat(gw.pid);

    up.send('finish');
    const results = await Promise.all([warm.done, ...all.map((s) => s.done)]);
    const ok = results.filter((r) => r.status === 200 && r.text.trimEnd().endsWith('data: [DONE]')
      && !r.text.includes('"error"')).length;

    const perStreamKiB = (loaded.rssKiB - idle.rssKiB) / Math.max(1, opened);
    const cpuPct = ((held.cpuS - loaded.cpuS) / holdS) * 100;
    console.log(`| streams open | idle RSS | RSS with streams | per stream | gateway CPU while ticking (${1000 / tickMs} event/s/stream) | open time | finished with [DONE] |`);
    console.log('|---:|---:|---:|---:|---:|---:|---:|');
    console.log(`| ${opened} | ${(idle.rssKiB / 1024).toFixed(1)} MiB | ${(loaded.rssKiB / 1024).toFixed(1)} MiB | ${perStreamKiB.toFixed(1)} KiB | ${cpuPct.toFixed(1)} % of a core | ${(openMs / 1000).toFixed(1)} s | ${ok - 1} of ${streams} (+ warm-up ${results[0].status === 200 ? 'ok' : 'failed'}) |`);
    if (opened < streams || ok !== results.length) process.exitCode = 1;
  } finally {
    gw.kill('SIGTERM');
    up.kill('SIGTERM');
  }
}
