// End-to-end: Sessions on the real binaries (issue 11) — pai-server with its local runtime
// (bubblewrap sandboxes, cgroups, Landlock, the egress proxy), the real pai-harness driving the
// mock provider's tool script through the real pai-gateway, and the real `pai` CLI.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import http from 'node:http';
import path from 'node:path';
import { execFileSync } from 'node:child_process';

import {
  startPlatform, pai, paiOk, loggedInHome, api, eventually, tmpDir,
} from './lib/platform.mjs';

const yaml = (lines) => lines.join('\n') + '\n';
const NS = '/apis/pai.io/v1/namespaces/default';

function writeFile(dir, name, text) {
  const f = path.join(dir, name);
  fs.writeFileSync(f, text);
  return f;
}

async function session(p, name) {
  const r = await api(p, 'GET', `${NS}/sessions/${name}`);
  return r.status === 200 ? r.json : undefined;
}

async function phaseIs(p, name, phases) {
  const s = await session(p, name);
  return s && phases.includes(s.status?.phase) ? s : undefined;
}

async function events(p, name, after = 0) {
  const r = await api(p, 'GET', `${NS}/sessions/${name}/events?after=${after}`);
  assert.equal(r.status, 200, r.text);
  return r.json.items;
}

// A TCP listener that counts connections; the sandbox must never reach it.
async function countingListener(host = '127.0.0.1') {
  let connections = 0;
  const server = net.createServer((s) => { connections += 1; s.destroy(); });
  await new Promise((resolve) => server.listen(0, host, resolve));
  return { port: server.address().port, count: () => connections, close: () => server.close() };
}

async function advanceClock(p, seconds) {
  const r = await api(p, 'POST', '/apis/pai.io/v1/testing/clock', { body: { advanceSeconds: seconds } });
  assert.equal(r.status, 200, r.text);
}

test('pai run: the demo agent writes a file in its sandboxed workspace through a real tool loop, then waits Idle; logs, audit and metrics show it', async () => {
  const p = await startPlatform();
  try {
    const home = await loggedInHome(p);
    const run = await pai(home, ['run', 'hello', '--agent', 'demo', '--task', 'Write hello.txt and show it'],
      { timeoutMs: 60000 });
    assert.equal(run.code, 0, `pai run failed:\n${run.stderr}${run.stdout}`);
    assert.match(run.stdout, /write/);
    assert.match(run.stdout, /bash/);
    assert.match(run.stdout, /hello\.txt/);

    const s = await eventually(() => phaseIs(p, 'hello', ['Idle']), 20000, 'session Idle');
    assert.ok(s.value.status.startedAt);
    assert.ok(s.value.status.tokensUsed > 0, JSON.stringify(s.value.status));
    // The file is in the Session's workspace, owned by the sandbox user, not root.
    const file = path.join(p.stateDir, 'runtime', 'workspaces', 'sessions', 'default', 'hello', 'hello.txt');
    assert.equal(fs.readFileSync(file, 'utf8'), 'Hello from Pai!\n');
    assert.equal(fs.statSync(file).uid, 65532);
    assert.ok(!fs.existsSync(path.join(process.cwd(), 'hello.txt')));

    const evs = await events(p, 'hello');
    const types = evs.map((e) => e.type);
    for (const t of ['session.status_running', 'agent.tool_use', 'agent.tool_result', 'agent.message',
      'span.model_request_end', 'session.status_idle']) {
      assert.ok(types.includes(t), `missing ${t} in ${types.join(',')}`);
    }
    assert.deepEqual(evs.map((e) => e.sequence), evs.map((_, i) => i + 1), 'gap-free sequence');
    const tools = evs.filter((e) => e.type === 'agent.tool_use').map((e) => e.name);
    assert.deepEqual(tools, ['write', 'bash']);
    const bashResult = evs.filter((e) => e.type === 'agent.tool_result').at(-1);
    assert.match(bashResult.content[0].text, /Hello from Pai!/);

    const sessions = await paiOk(home, ['get', 'sessions']);
    assert.match(sessions, /hello\s+.*Idle/);
    const logs = await pai(home, ['logs', 'hello', '--no-follow']);
    assert.equal(logs.code, 0, logs.stderr);

    const audit = await api(p, 'GET', `${NS}/agents/demo/audit?type=llm_call,tool_call&limit=1000`);
    assert.equal(audit.status, 200, audit.text);
    const mine = audit.json.filter((r) => r.detail?.session === 'hello');
    assert.ok(mine.some((r) => r.type === 'LLM_CALL'), audit.text);
    assert.ok(mine.some((r) => r.type === 'TOOL_CALL'), audit.text);
    const auditCli = await paiOk(home, ['audit', 'demo', '--type', 'tool_call']);
    assert.match(auditCli, /TOOL_CALL/);
    const metrics = await paiOk(home, ['get', 'metrics']);
    assert.match(metrics, /demo/);

    // pai chat resumes the Idle Session: a message, the agent's answer, /exit.
    const chatRun = await pai(home, ['chat', 'hello'], { input: 'What did you do?\n/exit\n', timeoutMs: 60000 });
    assert.equal(chatRun.code, 0, chatRun.stderr);
    assert.match(chatRun.stdout, /Session chat\s+hello/);
    assert.match(chatRun.stdout, /Agent /);
    const after = await events(p, 'hello');
    const user = after.find((e) => e.type === 'user.message');
    assert.ok(user && user.processed_at, 'the user message was processed');

    // The user ends it: Complete, its gateway identity is revoked.
    const end = await api(p, 'POST', `${NS}/sessions/hello/end`);
    assert.equal(end.status, 200, end.text);
    await eventually(() => phaseIs(p, 'hello', ['Complete']), 20000, 'session Complete');
    const last = (await events(p, 'hello')).at(-1);
    assert.equal(last.type, 'session.status_terminated');
    assert.equal(last.phase, 'Complete');
    const post = await api(p, 'POST', `${NS}/sessions/hello/events`,
      { body: { events: [{ type: 'user.message', content: 'again' }] } });
    assert.equal(post.status, 409);
  } finally {
    await p.stop();
  }
});

// A state directory the sandbox user cannot reach — below a 0700 directory, as a checkout under
// /root is: the server says so when it starts, and a run fails at once naming the directory and
// the two ways out, instead of bwrap's "Can't find source path … Permission denied".
test('a state directory below a 0700 directory: a warning at start and a run that fails saying which directory stops the sandbox user', async () => {
  const closed = tmpDir('pai-closed-');
  fs.chmodSync(closed, 0o700);
  const p = await startPlatform({ stateDir: path.join(closed, 'state') });
  try {
    const quoted = closed.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const said = new RegExp(`cannot reach the state directory .*: ${quoted} is mode 0700 .*chmod o\\+x ${quoted}`);
    await eventually(() => p.logs.find((l) => l.msg === 'sessions cannot start' && said.test(l.error)), 10000,
      'the warning at start');
    const home = await loggedInHome(p);
    const run = await pai(home, ['run', 'shut', '--agent', 'demo', '--task', 'hi'], { timeoutMs: 60000 });
    assert.notEqual(run.code, 0, 'the run fails');
    assert.match(run.stdout + run.stderr, said);
    assert.doesNotMatch(run.stdout + run.stderr, /Can't find source path/);
    const s = await eventually(() => phaseIs(p, 'shut', ['Error']), 20000, 'session Error');
    assert.match(s.value.status.message, said);
  } finally {
    await p.stop();
  }
});

test('sandbox: exec exit codes, cp round trip, web_fetch through the egress proxy, and escapes refused (root, writes outside, host files, host ports, loopback and metadata through the egress proxy)', async () => {
  const allowed = await new Promise((resolve) => {
    const srv = http.createServer((req, res) => res.end(`allowed ${req.url}`));
    srv.listen(0, '127.0.0.2', () => resolve(srv));
  });
  const p = await startPlatform({ extraArgs: ['--egress-allow', '127.0.0.2/32'] });
  const hostPort = await countingListener('127.0.0.1');
  let metadata;
  try {
    execFileSync('ip', ['addr', 'add', '169.254.169.254/32', 'dev', 'lo']);
    metadata = await countingListener('169.254.169.254');
  } catch { metadata = undefined; }
  try {
    const home = await loggedInHome(p);
    await paiOk(home, ['run', 'box', '--agent', 'demo'], { timeoutMs: 60000 });
    await eventually(() => phaseIs(p, 'box', ['Idle']), 20000, 'session Idle');

    const id = await pai(home, ['exec', 'box', '--', 'id', '-u']);
    assert.equal(id.code, 0, id.stderr);
    assert.equal(id.stdout.trim(), '65532');
    const seven = await pai(home, ['exec', 'box', '--', 'sh', '-c', 'echo out; echo err >&2; exit 7']);
    assert.equal(seven.code, 7);
    assert.match(seven.stdout, /out/);
    assert.match(seven.stderr, /err/);

    // The Session's own identity is inside (and is its only credential), but never in any host
    // process's command line (readable by every host user).
    const key = (await paiOk(home, ['exec', 'box', '--', 'sh', '-c', 'echo $OPENAI_API_KEY'])).trim();
    assert.match(key, /^pai_[0-9a-f]{12}_/);
    for (const pid of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
      let cmdline = '';
      try { cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8'); } catch { continue; }
      assert.ok(!cmdline.includes(key), `the token is in the command line of pid ${pid}`);
    }

    // cp both ways.
    const dir = tmpDir('pai-cp-');
    const src = writeFile(dir, 'data.csv', 'a,b\n1,2\n');
    await paiOk(home, ['cp', src, 'box:/workspace/data.csv']);
    await paiOk(home, ['cp', 'box:/workspace/data.csv', path.join(dir, 'back.csv')]);
    assert.equal(fs.readFileSync(path.join(dir, 'back.csv'), 'utf8'), 'a,b\n1,2\n');
    const cpOut = await pai(home, ['cp', src, 'box:/usr/evil.csv']);
    assert.notEqual(cpOut.code, 0, 'a write outside the writable paths is refused');

    // Writes outside the workspace, the host's files, root.
    const escapes = await pai(home, ['exec', 'box', '--', 'sh', '-c', [
      'touch /usr/x 2>/dev/null && echo WROTE-USR',
      'touch /etc/x 2>/dev/null && echo WROTE-ETC',
      `cat ${p.stateDir}/admin-token 2>/dev/null && echo READ-ADMIN`,
      `cat ${p.stateDir}/gateway/config/platform.yaml 2>/dev/null && echo READ-GATEWAY-CONFIG`,
      'env | grep -i "_API_KEY=sk-" && echo PROVIDER-KEY',
      'su -c true 2>/dev/null && echo ROOT',
      'echo done'].join('; ')]);
    assert.equal(escapes.code, 0, escapes.stderr);
    assert.equal(escapes.stdout.trim(), 'done', escapes.stdout);

    // A direct socket to a host port: refused (own network namespace), the listener sees nothing.
    const direct = await pai(home, ['exec', 'box', '--', 'bash', '-c',
      `exec 3<>/dev/tcp/127.0.0.1/${hostPort.port} && echo CONNECTED`]);
    assert.doesNotMatch(direct.stdout, /CONNECTED/);
    // Through the egress proxy: loopback and metadata refused; the allow-listed server answers.
    // (NO_PROXY names 127.0.0.1 for the gateway's port: ask for the proxy explicitly.)
    const viaProxy = (url) => pai(home, ['exec', 'box', '--', 'curl', '-s', '-o', '/dev/null',
      '-w', '%{http_code}', '--max-time', '10', '--noproxy', '', '-x', 'http://127.0.0.1:3128', url]);
    const loop = await viaProxy(`http://127.0.0.1:${hostPort.port}/`);
    assert.equal(loop.stdout.trim(), '403', loop.stdout + loop.stderr);
    if (metadata) {
      const md = await viaProxy(`http://169.254.169.254:${metadata.port}/latest/meta-data/`);
      assert.equal(md.stdout.trim(), '403');
    }
    const ok = await pai(home, ['exec', 'box', '--', 'curl', '-s', '--max-time', '10',
      `http://127.0.0.2:${allowed.address().port}/hi`]);
    assert.equal(ok.stdout, 'allowed /hi', ok.stderr);
    assert.equal(hostPort.count(), 0, 'the host port saw no connection');
    if (metadata) assert.equal(metadata.count(), 0, 'the metadata address saw no connection');
    // The harness's own web_fetch goes through the proxy too (the mock asks for it).
    const fetched = await pai(home, ['chat', 'box'],
      { input: `fetch http://127.0.0.2:${allowed.address().port}/from-harness\n/exit\n`, timeoutMs: 60000 });
    assert.equal(fetched.code, 0, fetched.stderr);
    assert.match(fetched.stdout, /web_fetch: http:\/\/127\.0\.0\.2:\d+\/from-harness/);
    assert.match(fetched.stdout, /HTTP 200/);
    const egress = await api(p, 'GET', `${NS}/sessions/box/egress`);
    assert.ok(egress.json.items.some((r) => r.allowed && r.path === '/from-harness'), egress.text);
    assert.equal(egress.status, 200);
    assert.ok(egress.json.items.some((r) => r.allowed && r.host === '127.0.0.2'), egress.text);
    assert.ok(egress.json.items.some((r) => !r.allowed && r.host === '127.0.0.1'), egress.text);
  } finally {
    hostPort.close();
    if (metadata) {
      metadata.close();
      try { execFileSync('ip', ['addr', 'del', '169.254.169.254/32', 'dev', 'lo']); } catch { /* gone */ }
    }
    allowed.close();
    await p.stop();
  }
});

test('limits: a fork bomb stops at the pids limit, a memory hog is killed and the Session ends in Error saying so', async () => {
  const p = await startPlatform();
  try {
    const home = await loggedInHome(p);
    const dir = tmpDir('pai-lim-');
    await paiOk(home, ['apply', '-f', writeFile(dir, 'a.yaml', yaml([
      'apiVersion: pai.io/v1', 'kind: Agent', 'metadata: {name: tight}',
      'spec:', '  models: [mock/gpt-4o-mini]',
      '  resources: {limits: {memory: 64Mi, cpu: 500m, pids: "48"}}']))]);
    await paiOk(home, ['run', 'bomb', '--agent', 'tight'], { timeoutMs: 60000 });
    await paiOk(home, ['run', 'hog', '--agent', 'tight'], { timeoutMs: 60000 });
    await eventually(() => phaseIs(p, 'bomb', ['Idle']), 20000, 'bomb Idle');
    await eventually(() => phaseIs(p, 'hog', ['Idle']), 20000, 'hog Idle');
    // dash does not retry a failed fork: it says so and stops.
    const bomb = await pai(home, ['exec', 'bomb', '--', 'sh', '-c',
      'i=0; while [ $i -lt 200 ]; do sleep 60 & i=$((i+1)); done; echo spawned=$i'],
    { timeoutMs: 60000 });
    assert.match(bomb.stdout + bomb.stderr, /Cannot fork|Resource temporarily unavailable/);
    assert.doesNotMatch(bomb.stdout, /spawned=200/);
    // The host is unaffected.
    assert.equal(execFileSync('sh', ['-c', 'echo ok']).toString().trim(), 'ok');

    const hog = await pai(home, ['exec', 'hog', '--', 'sh', '-c', 'head -c 400M /dev/zero | tail > /dev/null'],
      { timeoutMs: 60000 });
    assert.notEqual(hog.code, 0, 'the memory hog is killed');
    await api(p, 'POST', `${NS}/sessions/hog/end`);
    const s = await eventually(() => phaseIs(p, 'hog', ['Error']), 20000, 'session Error');
    assert.match(s.value.status.message, /memory/);
  } finally {
    await p.stop();
  }
});

test('events stream: resumed after a disconnect from the last id, with no gap and no duplicate', async () => {
  const p = await startPlatform();
  try {
    const home = await loggedInHome(p);
    await paiOk(home, ['run', 'sse', '--agent', 'demo', '--task', 'Write hello.txt'], { timeoutMs: 60000 });
    await eventually(() => phaseIs(p, 'sse', ['Idle']), 20000, 'session Idle');
    const all = await events(p, 'sse');
    assert.ok(all.length >= 6);
    const read = async (headers, stopAfter) => {
      const ac = new AbortController();
      const res = await fetch(`${p.api}${NS}/sessions/sse/events/stream`, {
        headers: { authorization: `Bearer ${p.adminToken}`, ...headers }, signal: ac.signal,
      });
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type'), /text\/event-stream/);
      const got = [];
      let buf = '';
      const dec = new TextDecoder();
      for await (const chunk of res.body) {
        buf += dec.decode(chunk, { stream: true });
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const id = block.match(/^id: (\d+)$/m);
          const data = block.match(/^data: (.*)$/m);
          if (id && data) got.push({ id: Number(id[1]), event: JSON.parse(data[1]) });
        }
        if (got.length >= stopAfter) break;
      }
      ac.abort();
      return got;
    };
    const first = await read({}, 3);
    const lastId = first.at(-1).id;
    const rest = await read({ 'last-event-id': String(lastId) }, all.length - lastId);
    const seqs = [...first, ...rest].map((e) => e.event.sequence);
    assert.deepEqual(seqs, all.map((e) => e.sequence));
    // A new event after the resume arrives on a live stream.
    const live = read({ 'last-event-id': String(all.at(-1).sequence) }, 1);
    await api(p, 'POST', `${NS}/sessions/sse/events`, { body: { events: [{ type: 'user.interrupt' }] } });
    const [next] = await live;
    assert.equal(next.event.sequence, all.at(-1).sequence + 1);
    assert.equal(next.event.type, 'user.interrupt');
  } finally {
    await p.stop();
  }
});

test('idle timeout and ttlSecondsAfterFinished follow the server clock (moved by the test, not slept)', async () => {
  const p = await startPlatform({ extraArgs: ['--test-clock'] });
  try {
    const home = await loggedInHome(p);
    const dir = tmpDir('pai-idle-');
    await paiOk(home, ['apply', '-f', writeFile(dir, 'a.yaml', yaml([
      'apiVersion: pai.io/v1', 'kind: Agent', 'metadata: {name: brief}',
      'spec:', '  models: [mock/gpt-4o-mini]', '  idleTimeoutMinutes: 10', '  ttlSecondsAfterFinished: 3600']))]);
    await paiOk(home, ['run', 'nap', '--agent', 'brief'], { timeoutMs: 60000 });
    await eventually(() => phaseIs(p, 'nap', ['Idle']), 20000, 'session Idle');
    await advanceClock(p, 9 * 60);
    // Still Idle one minute before its timeout (the clock route returns after a controller pass).
    assert.equal((await session(p, 'nap')).status.phase, 'Idle');
    await advanceClock(p, 61);
    const done = await eventually(() => phaseIs(p, 'nap', ['Complete']), 20000, 'Complete at the idle timeout');
    assert.match(done.value.status.message, /idle/);
    await advanceClock(p, 3500);
    assert.ok(await session(p, 'nap'), 'kept until its TTL');
    await advanceClock(p, 101);
    await eventually(async () => (await session(p, 'nap')) === undefined, 20000, 'deleted after its TTL');
  } finally {
    await p.stop();
  }
});

test('schedule trigger: a cron tick of the server clock starts a run that completes and is recorded on the Agent', async () => {
  const p = await startPlatform({ extraArgs: ['--test-clock'] });
  try {
    const home = await loggedInHome(p);
    const dir = tmpDir('pai-cron-');
    await paiOk(home, ['apply', '-f', writeFile(dir, 'a.yaml', yaml([
      'apiVersion: pai.io/v1', 'kind: Agent', 'metadata: {name: nightly}',
      'spec:', '  models: [mock/gpt-4o-mini]', '  triggers:', '  - schedule: "*/5 * * * *"']))]);
    const agent = await eventually(async () => {
      const r = await api(p, 'GET', `${NS}/agents/nightly`);
      return r.json?.status?.phase === 'Scheduled' ? r.json : undefined;
    }, 20000, 'Scheduled');
    assert.ok(agent.value.status.cronJobName);
    await advanceClock(p, 5 * 60);
    const run = await eventually(async () => {
      const r = await api(p, 'GET', `${NS}/sessions?agent=nightly`);
      return r.json.items.find((s) => s.status?.phase === 'Complete');
    }, 30000, 'a scheduled run Complete');
    assert.equal(run.value.metadata.labels['pai.io/trigger'], 'schedule');
    const st = await eventually(async () => {
      const r = await api(p, 'GET', `${NS}/agents/nightly`);
      return r.json.status.lastRunPhase === 'Complete' ? r.json.status : undefined;
    }, 20000, 'lastRunPhase');
    assert.ok(st.value.lastRunAt);
  } finally {
    await p.stop();
  }
});

test('webhook trigger: allowCIDRs refuse other callers; an allowed POST starts a Session with the payload', async () => {
  const p = await startPlatform();
  try {
    const home = await loggedInHome(p);
    const dir = tmpDir('pai-hook-');
    await paiOk(home, ['apply', '-f', writeFile(dir, 'a.yaml', yaml([
      'apiVersion: pai.io/v1', 'kind: Agent', 'metadata: {name: closed}',
      'spec:', '  models: [mock/gpt-4o-mini]', '  triggers:', '  - webhook: {allowCIDRs: ["10.0.0.0/8"]}',
      '---',
      'apiVersion: pai.io/v1', 'kind: Agent', 'metadata: {name: open}',
      'spec:', '  models: [mock/gpt-4o-mini]', '  triggers:', '  - webhook: {allowCIDRs: ["127.0.0.1/32"]}']))]);
    const url = async (name) => (await eventually(async () => {
      const r = await api(p, 'GET', `${NS}/agents/${name}`);
      return r.json?.status?.webhookURL;
    }, 20000, `${name} webhook URL`)).value;
    const closed = await fetch(await url('closed'), { method: 'POST', body: '{"x":1}' });
    assert.equal(closed.status, 403);
    const bogus = await fetch(`${p.api}/hooks/not-a-token`, { method: 'POST', body: '{}' });
    assert.equal(bogus.status, 404);
    const open = await fetch(await url('open'), { method: 'POST', body: '{"issue":"ENG-1"}' });
    assert.equal(open.status, 202);
    const { session: name } = await open.json();
    const s = await eventually(() => phaseIs(p, name, ['Idle']), 30000, 'webhook session Idle');
    assert.match(s.value.spec.task, /ENG-1/);
    assert.equal((await api(p, 'GET', `${NS}/sessions?agent=closed`)).json.items.length, 0);
  } finally {
    await p.stop();
  }
});

test('a looping agent is stopped by tokens.maxPerDay and its Session ends in Error saying so', async () => {
  const p = await startPlatform();
  try {
    const home = await loggedInHome(p);
    const dir = tmpDir('pai-loop-');
    await paiOk(home, ['apply', '-f', writeFile(dir, 'a.yaml', yaml([
      'apiVersion: pai.io/v1', 'kind: Agent', 'metadata: {name: looper}',
      'spec:', '  models: [mock/gpt-4o-mini]', '  tokens: {maxPerDay: 3000}']))]);
    const run = await pai(home, ['run', 'loop', '--agent', 'looper', '--task', 'loop forever'], { timeoutMs: 90000 });
    assert.notEqual(run.code, 0, 'pai run exits non-zero on Error');
    const s = await eventually(() => phaseIs(p, 'loop', ['Error']), 60000, 'session Error');
    assert.match(s.value.status.message, /budget|quota|tokens/i);
    const evs = await events(p, 'loop');
    assert.ok(evs.some((e) => e.type === 'session.error' && e.error.type === 'budget_exceeded'));
  } finally {
    await p.stop();
  }
});

test('deleting an Agent ends and deletes its Sessions and revokes their identities', async () => {
  const p = await startPlatform();
  try {
    const home = await loggedInHome(p);
    const dir = tmpDir('pai-del-');
    await paiOk(home, ['apply', '-f', writeFile(dir, 'a.yaml', yaml([
      'apiVersion: pai.io/v1', 'kind: Agent', 'metadata: {name: doomed}',
      'spec:', '  models: [mock/gpt-4o-mini]']))]);
    await paiOk(home, ['run', 'gone', '--agent', 'doomed'], { timeoutMs: 60000 });
    await eventually(() => phaseIs(p, 'gone', ['Idle']), 20000, 'Idle');
    await paiOk(home, ['delete', 'agent', 'doomed']);
    assert.equal(await session(p, 'gone'), undefined);
    const exec = await pai(home, ['exec', 'gone', '--', 'true']);
    assert.notEqual(exec.code, 0);
    await eventually(async () => {
      const tokens = JSON.parse(fs.readFileSync(path.join(p.stateDir, 'gateway', 'tokens.json'), 'utf8'));
      return tokens.tokens.filter((t) => t.session === 'gone').every((t) => t.revoked);
    }, 20000, 'session identity revoked');
  } finally {
    await p.stop();
  }
});

test('a long-running Agent runs its command as a sandboxed replica, restarted when it exits; logs and exec reach it', async () => {
  const p = await startPlatform();
  try {
    const home = await loggedInHome(p);
    const dir = tmpDir('pai-svc-');
    await paiOk(home, ['apply', '-f', writeFile(dir, 'a.yaml', yaml([
      'apiVersion: pai.io/v1', 'kind: Agent', 'metadata: {name: svc}',
      'spec:', '  longRunning: true', '  harness: custom', '  image: example/svc:1',
      '  models: [mock/gpt-4o-mini]', '  replicas: 1',
      '  command: ["sh", "-c", "echo started as $(id -u); echo x >> /workspace/starts; sleep 1; exit 3"]']))]);
    await eventually(async () => {
      const r = await api(p, 'GET', `${NS}/agents/svc`);
      return r.json?.status?.phase === 'Running';
    }, 20000, 'Running');
    // Restarted after it exits: two starts recorded in its workspace and its log.
    await eventually(async () => {
      const logs = await pai(home, ['logs', 'svc', '--no-follow']);
      return (logs.stdout.match(/started as 65532/g) || []).length >= 2;
    }, 30000, 'restarted at least once');
    // The replica lives 1 s and is restarted after a pause: an exec that lands in a pause finds
    // no running replica (seen under ASan), so it is retried until one is up.
    const exec = (await eventually(async () => {
      const r = await pai(home, ['exec', 'svc', '--', 'cat', '/workspace/starts']);
      return r.code === 0 ? r : undefined;
    }, 20000, 'exec reaches a running replica')).value;
    assert.ok(exec.stdout.split('\n').filter(Boolean).length >= 2);
    await paiOk(home, ['delete', 'agent', 'svc']);
    const gone = await pai(home, ['exec', 'svc', '--', 'true']);
    assert.notEqual(gone.code, 0);
  } finally {
    await p.stop();
  }
});
