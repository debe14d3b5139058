// Test harness: mock upstream + gateway wired together (not a test file).

import assert from 'node:assert/strict';
import { startOpenAIUpstream } from '../upstream/openai_upstream.mjs';
import { startGateway, stopAllGateways, getClosedPort, byMsg, tokenSecret } from './gateway.mjs';
import { buildManifest, makeClient, PROVIDER_KEY } from './common.mjs';

/**
 * Starts a mock upstream and a gateway configured against it.
 * `mintBefore` tokens are minted before the gateway starts (no reload wait needed).
 * Returns {upstream, gw, manifestOpts, tokens, token, client, cleanup}.
 */
export async function startStack({ extraArgs = [], mintBefore = ['default/coder'], coderModels, env } = {}) {
  const upstream = await startOpenAIUpstream();
  try {
    const downPort = await getClosedPort();
    const manifestOpts = { upstreamURL: upstream.url, downURL: `http://127.0.0.1:${downPort}/v1`, coderModels };
    const gw = await startGateway({ manifest: buildManifest(manifestOpts), extraArgs, mintBefore, env });
    const token = gw.tokens[0];
    return {
      upstream, gw, manifestOpts, downPort,
      tokens: gw.tokens,
      token,
      client: token ? makeClient(gw.baseURL, token) : null,
      async cleanup() {
        await stopAllGateways();
        await upstream.close();
      },
    };
  } catch (err) {
    await stopAllGateways();
    await upstream.close();
    throw err;
  }
}

/** Asserts that no header name/value nor the body of an upstream request contains the agent token. */
export function assertNoAgentToken(record, token) {
  const secret = tokenSecret(token);
  const raw = record.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const h = `${raw[i]}: ${raw[i + 1]}`;
    assert.ok(!h.includes(token), `upstream request header leaks the agent token: ${h}`);
    assert.ok(!h.includes(secret), `upstream request header leaks the agent token's secret: ${h}`);
  }
  assert.ok(!record.raw.includes(secret), 'upstream request body contains the agent token secret');
}

/** Asserts that no gateway log line contains the provider key or any of the given tokens. */
export function assertLogsClean(gw, tokens = []) {
  gw.logs.forEach((line, i) => {
    const text = typeof line === 'string' ? line : JSON.stringify(line);
    assert.ok(!text.includes(PROVIDER_KEY), `log line ${i} contains the provider key: ${text}`);
    for (const t of tokens) {
      assert.ok(!text.includes(tokenSecret(t)), `log line ${i} contains an agent token: ${text}`);
    }
  });
}

/** Waits for the `access` log line of request `requestId`. */
export function waitForAccess(gw, requestId, timeoutMs = 5000) {
  return gw.waitForLog(byMsg('access', (l) => l.request_id === requestId), timeoutMs);
}
