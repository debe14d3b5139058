// How long a change made with `pai apply` takes to be enforced by the running gateway, against
// the baseline of the same gateway reloading a manifest file rewritten by hand, in one run.
//
//   node bench/platform_propagation.mjs [rounds]
// Needs PAI_SERVER_BIN, PAI_CLI_BIN and PAI_GATEWAY_BIN (absolute paths), as the integration
// tests do. Each round flips an Agent's tokens.maxPerDay between unlimited and 1 and times the
// first gateway answer that shows the new limit (429, or 200 after it is lifted).
import fs from 'node:fs';
import path from 'node:path';
import { spawn, execFileSync } from 'node:child_process';
import readline from 'node:readline';

import {
  startPlatform, paiOk, loggedInHome, chat, tmpDir, gatewayBinPath,
} from '../tests/integration/lib/platform.mjs';

const rounds = Number(process.argv[2] ?? 20);

async function until(probe) {
  const t0 = performance.now();
  for (;;) {
    if (await probe()) return performance.now() - t0;
    if (performance.now() - t0 > 10000) throw new Error('no change within 10 s');
  }
}

const agentYaml = (limit) => [
  'apiVersion: pai.io/v1', 'kind: Agent', 'metadata: {name: bench, namespace: default}',
  'spec:', '  models: [mock/gpt-4o-mini]', ...(limit ? ['  tokens:', `    maxPerDay: ${limit}`] : []), '',
].join('\n');

function stats(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  return { p50: q(0.5), p95: q(0.95), max: s.at(-1) };
}

async function viaServer() {
  const p = await startPlatform();
  try {
    const home = await loggedInHome(p);
    const dir = tmpDir('bench-');
    const file = path.join(dir, 'a.yaml');
    fs.writeFileSync(file, agentYaml(0));
    await paiOk(home, ['apply', '-f', file]);
    const token = (await paiOk(home, ['admin', 'gateway-token', 'create', '--agent', 'bench']))
      .match(/pai_[0-9a-f]{12}_[A-Za-z0-9_-]+/)[0];
    await until(async () => (await chat(p, token)).status === 200);
    const times = [];
    for (let i = 0; i < rounds; ++i) {
      const limited = i % 2 === 0;
      fs.writeFileSync(file, agentYaml(limited ? 1 : 0));
      const t0 = performance.now();
      await paiOk(home, ['apply', '-f', file]);
      await until(async () => (await chat(p, token)).status === (limited ? 429 : 200));
      times.push(performance.now() - t0);
    }
    return times;
  } finally {
    await p.stop();
  }
}

async function viaFile() {
  // The same gateway binary alone, its manifest rewritten directly (what the server does last).
  const dir = tmpDir('bench-gw-');
  const cfg = path.join(dir, 'gw.yaml');
  const head = 'apiVersion: pai.io/v1\nkind: ModelProvider\nmetadata: {name: mock}\nspec: {provider: mock}\n---\n';
  fs.writeFileSync(cfg, head + agentYaml(0));
  const state = path.join(dir, 'state');
  const token = execFileSync(gatewayBinPath(), ['token', '--agent', 'default/bench', '-f', cfg, '--state-dir', state]).toString().trim();
  const gw = spawn(gatewayBinPath(), ['-f', cfg, '--state-dir', state, '--listen', '127.0.0.1:0',
    '--admin-listen', '127.0.0.1:0', '--watch-interval-ms', '100'], { stdio: ['ignore', 'ignore', 'pipe'] });
  const listen = await new Promise((resolve) => {
    readline.createInterface({ input: gw.stderr }).on('line', (l) => {
      try { const r = JSON.parse(l); if (r.msg === 'listening') resolve(r.listen); } catch { /* not JSON */ }
    });
  });
  const p = { gateway: `http://${listen}/v1` };
  try {
    await until(async () => (await chat(p, token)).status === 200);
    const times = [];
    for (let i = 0; i < rounds; ++i) {
      const limited = i % 2 === 0;
      const t0 = performance.now();
      fs.writeFileSync(cfg + '.tmp', head + agentYaml(limited ? 1 : 0));
      fs.renameSync(cfg + '.tmp', cfg);
      await until(async () => (await chat(p, token)).status === (limited ? 429 : 200));
      times.push(performance.now() - t0);
    }
    return times;
  } finally {
    gw.kill('SIGTERM');
  }
}

const server = stats(await viaServer());
const file = stats(await viaFile());
const f = (x) => `${x.toFixed(0)} ms`;
console.log(`rounds: ${rounds}`);
console.log(`pai apply -> gateway enforces      p50 ${f(server.p50)}  p95 ${f(server.p95)}  max ${f(server.max)}`);
console.log(`file rewrite -> gateway enforces   p50 ${f(file.p50)}  p95 ${f(file.p95)}  max ${f(file.max)}`);
console.log(`ratio (p50)                        ${(server.p50 / file.p50).toFixed(2)}x`);
