// End-to-end: configuration hot reload (file change, invalid config, SIGHUP).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { NORMAL_CONTENT } from './upstream/openai_upstream.mjs';
import { byMsg } from './lib/gateway.mjs';
import { CODER_MODELS, USER_MESSAGES, buildManifest, expectAPIError } from './lib/common.mjs';
import { startStack } from './lib/harness.mjs';

let S;
before(async () => { S = await startStack({ mintBefore: ['default/coder'] }); });
after(async () => { await S?.cleanup(); });

const RELOAD_TIMEOUT_MS = 5000;
const chat = (model) => S.client.chat.completions.create({ model, messages: USER_MESSAGES });

test('j. hot reload: new model, invalid config rejected (old one keeps serving), SIGHUP', { timeout: 60000 }, async () => {
  const { gw, upstream } = S;

  // Before: up/extra is not allowed.
  await expectAPIError(() => chat('up/extra'), 403);

  // 1. Add up/extra to the agent.
  const withExtra = buildManifest({ ...S.manifestOpts, coderModels: [...CODER_MODELS, 'up/extra'] });
  let mark = gw.mark();
  await gw.writeConfig(withExtra);
  await gw.waitForLog(byMsg('config reloaded'), RELOAD_TIMEOUT_MS, mark);
  const r1 = await chat('up/extra');
  assert.equal(r1.choices[0].message.content, NORMAL_CONTENT);
  assert.equal(upstream.requests.at(-1).body.model, 'extra');

  // 2. Invalid config: spec.models is not a list.
  const invalid = buildManifest({ ...S.manifestOpts, coderModelsYaml: '42' });
  assert.match(invalid, /models: 42/);
  mark = gw.mark();
  await gw.writeConfig(invalid);
  let rejected = await gw.waitForLog(byMsg('config reload rejected'), RELOAD_TIMEOUT_MS, mark);
  if (typeof rejected.error === 'string' && !rejected.error.includes('spec.models')) {
    // The watcher may have caught the file half-written (truncated); the complete file must
    // then be rejected too, naming the field.
    rejected = await gw.waitForLog(byMsg('config reload rejected', (l) => String(l.error).includes('spec.models')),
      2000, mark).catch(() => rejected);
  }
  assert.equal(typeof rejected.error, 'string', `"error" field: ${JSON.stringify(rejected)}`);
  assert.ok(rejected.error.includes('config.yaml'), `error must name the file: ${rejected.error}`);
  assert.ok(rejected.error.includes('spec.models'), `error must name the field path: ${rejected.error}`);
  assert.ok(!gw.logs.slice(mark).some(byMsg('config reloaded')), 'an invalid config must not be applied');

  // The last good config (with up/extra) keeps serving.
  assert.equal((await chat('up/extra')).choices[0].message.content, NORMAL_CONTENT);
  assert.equal((await chat('up/gpt-4o-mini')).choices[0].message.content, NORMAL_CONTENT);

  // 3. Restore a valid config (without up/extra) and wait for it to be applied.
  mark = gw.mark();
  await gw.writeConfig(buildManifest(S.manifestOpts));
  await gw.waitForLog(byMsg('config reloaded'), RELOAD_TIMEOUT_MS, mark);
  const e = await expectAPIError(() => chat('up/extra'), 403);
  assert.ok(e instanceof OpenAI.PermissionDeniedError);

  // 4. SIGHUP triggers a reload (and does not kill the process).
  mark = gw.mark();
  gw.proc.kill('SIGHUP');
  await gw.waitForLog(byMsg('config reloaded'), RELOAD_TIMEOUT_MS, mark);
  assert.equal(gw.exitInfo, null, 'gateway must survive SIGHUP');
  assert.equal((await chat('up/gpt-4o-mini')).choices[0].message.content, NORMAL_CONTENT);
});

test('j2. atomic replace (write temp + rename, as Kubernetes volume updates do) is picked up', { timeout: 30000 }, async () => {
  const { gw } = S;
  const mark = gw.mark();
  await gw.writeConfigAtomic(buildManifest({ ...S.manifestOpts, coderModels: [...CODER_MODELS, 'up/extra2'] }));
  await gw.waitForLog(byMsg('config reloaded'), RELOAD_TIMEOUT_MS, mark);
  assert.equal((await chat('up/extra2')).choices[0].message.content, NORMAL_CONTENT);
});

test('j3. a truncated (empty) config file is rejected; the old config keeps serving', { timeout: 30000 }, async () => {
  // Editors and `cat > file` truncate before writing: a watcher can see the empty file.
  const { gw } = S;
  const good = buildManifest(S.manifestOpts);
  let mark = gw.mark();
  await gw.writeConfig('');
  const line = await gw.waitForLog((l) => byMsg('config reloaded')(l) || byMsg('config reload rejected')(l),
    RELOAD_TIMEOUT_MS, mark);
  assert.equal(line.msg, 'config reload rejected', `an empty config file must not replace the running config: ${JSON.stringify(line)}`);
  assert.equal((await chat('up/gpt-4o-mini')).choices[0].message.content, NORMAL_CONTENT);

  mark = gw.mark();
  await gw.writeConfig(good);
  await gw.waitForLog(byMsg('config reloaded'), RELOAD_TIMEOUT_MS, mark);
});
