// End-to-end: today's spend survives a restart on the same --state-dir — a clean one (SIGTERM)
// and a crash (SIGKILL after a flush of <state-dir>/budget.db).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PROMPT_TOKENS, COMPLETION_TOKENS } from './upstream/openai_upstream.mjs';
import { USER_MESSAGES, assertOpenAIErrorBody } from './lib/common.mjs';
import { waitForAccess } from './lib/harness.mjs';
import {
  startBudgetStack, postChat, inputBound, waitForBudgetEvent, waitForBudgetFlush,
} from './lib/budget.mjs';

const BODY = { model: 'up/gpt-4o-mini', messages: USER_MESSAGES, max_tokens: 5 };
const CALL_TOKENS = PROMPT_TOKENS + COMPLETION_TOKENS;
// Three calls fit; then nothing is left for a fourth one's input bound.
const LIMIT = 3 * CALL_TOKENS + inputBound(BODY);

test('i. spend survives a restart (SIGTERM) and a crash (SIGKILL after a flush)', { timeout: 60000 }, async (t) => {
  const limited = { models: ['up/gpt-4o-mini'], tokens: { maxPerDay: LIMIT } };
  const S = await startBudgetStack({
    agents: { clean: limited, crash: limited, fresh: limited, probe: { models: ['up/gpt-4o-mini'] } },
  });
  t.after(() => S.cleanup());

  const spend = async (agent) => {
    for (let i = 0; i < 3; i++) {
      const r = await postChat(S.gw, S.tokens[agent], BODY);
      assert.equal(r.status, 200, `${agent} call ${i + 1}: ${r.text}`);
      assert.equal(r.headers.get('x-ratelimit-remaining-tokens'), String(LIMIT - i * CALL_TOKENS));
      await waitForAccess(S.gw, r.rid);
    }
  };
  const expectRefused = async (agent, { exactUsed }) => {
    const r = await postChat(S.gw, S.tokens[agent], BODY);
    assert.equal(r.status, 429, `${agent}: the spend before the restart was lost: ${r.status} ${r.text}`);
    assertOpenAIErrorBody(r.json, { code: 'insufficient_quota' });
    const ev = await waitForBudgetEvent(S.gw, r.rid);
    assert.equal(ev.detail.limit, 'tokens_per_day');
    if (exactUsed) {
      assert.equal(ev.detail.used, 3 * CALL_TOKENS, `${agent}: spend after the restart`);
    } else {
      // A crash may persist an in-flight reservation as spent (never less than the spend).
      assert.ok(ev.detail.used >= 3 * CALL_TOKENS && ev.detail.used <= LIMIT, `${agent}: spend after the crash ${ev.detail.used}`);
    }
  };

  // 1. Spend, stop cleanly, start again on the same state dir (tokens persist there too).
  await spend('clean');
  const code = await S.gw.stop('SIGTERM');
  assert.equal(code, 0, 'exit code after SIGTERM');
  await S.restart();
  await expectRefused('clean', { exactUsed: true });
  const p = await postChat(S.gw, S.tokens.probe, BODY);
  assert.equal(p.status, 200, 'the restarted gateway serves');

  // 2. Spend, wait for a flush of budget.db, crash, start again.
  await spend('crash');
  // Any admitted request dirties the counters: once the WAL was written after the crash
  // agent's last call ended, its settled spend (or, pessimistically, its reservation) is on disk.
  await waitForBudgetFlush(S.gw.stateDir, async () => {
    const r = await postChat(S.gw, S.tokens.probe, BODY);
    assert.equal(r.status, 200);
  });
  await S.gw.stop('SIGKILL');
  assert.equal(S.gw.exitInfo.signal, 'SIGKILL');
  await S.restart();
  await expectRefused('crash', { exactUsed: false });
  await expectRefused('clean', { exactUsed: true });

  // Control: the same limit on an agent that spent nothing is not refused.
  const f = await postChat(S.gw, S.tokens.fresh, BODY);
  assert.equal(f.status, 200, f.text);
});
