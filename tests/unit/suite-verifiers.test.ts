import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Model } from '../../harness/processor';
import type { ModelRequest } from '../../harness/types';
import type { EpisodeRecord } from '../../suites/types';
import { createVerifier, scoreFrom, verifySafely } from '../../suites/verifiers';
import { verifyNotes } from '../fixtures/suites/notes/harnessx.config';

const FIXTURE = resolve(__dirname, '../fixtures/suites/notes');

/** An episode of the fixture's task notes-1 ("save 'buy milk', then say how many notes there are"). */
function record(notes: string[], answer: string | null, toolCalls: EpisodeRecord['toolCalls'] = notes.map((text) => ({ name: 'add_note', args: { text }, ok: true, output: 'saved' }))): EpisodeRecord {
  return { suite: 'notes', task: { id: 'notes-1', instruction: 'Save a note that says "buy milk", then tell me how many notes there are.', metadata: { notes: ['buy milk'], count: 1 } }, toolCalls, answer, dialogue: [], state: { notes } };
}
const right = record(['buy milk'], '1');
const wrong = record(['buy bread'], '1');
/** Claims success in its answer and its tool calls' outputs, but the state shows nothing was saved. */
const fooling = record([], '1', [{ name: 'add_note', args: { text: 'buy milk' }, ok: true, output: 'saved note 1' }]);

function script(name: string, body: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'hx-verifier-'));
  writeFileSync(join(dir, name), body);
  return dir;
}

describe('function verifiers', () => {
  const v = createVerifier(verifyNotes, { suite: 'notes', configDir: FIXTURE });
  it('accept the right episode, reject a wrong one, and are not fooled by an answer that only claims success', async () => {
    expect(await verifySafely(v, right, {})).toEqual({ score: 1, breakdown: { saved: true, counted: true, answered: true } });
    expect(await verifySafely(v, wrong, {})).toMatchObject({ score: 0, breakdown: { saved: false } });
    expect(await verifySafely(v, fooling, {})).toMatchObject({ score: 0, breakdown: { saved: false, counted: false, answered: true } });
  });

  it('score 0 with the reason when they throw, time out or return something that is not a score', async () => {
    const broken = (fn: Parameters<typeof createVerifier>[0]) => verifySafely(createVerifier(fn, { suite: 'notes', configDir: FIXTURE }), right, { timeoutMs: 200 });
    expect(await broken(() => { throw new Error('db down'); })).toEqual({ score: 0, reason: 'verifier function failed: db down' });
    expect(await broken(() => new Promise(() => undefined))).toEqual({ score: 0, reason: 'verifier function timed out after 200 ms' });
    expect(await broken(() => 1.5)).toEqual({ score: 0, reason: 'verifier function failed: score 1.5 is outside [0, 1]' });
    expect(await broken(() => NaN)).toEqual({ score: 0, reason: 'verifier function failed: score NaN is outside [0, 1]' });
    expect(await broken((() => 'yes') as never)).toMatchObject({ score: 0, reason: expect.stringContaining('not a score') });
  });

  it('scoreFrom takes a number or {score, breakdown?, reason?} in [0, 1], nothing else', () => {
    expect(scoreFrom(0.5)).toEqual({ ok: true, score: { score: 0.5 } });
    expect(scoreFrom({ score: 1, reason: 'ok' })).toEqual({ ok: true, score: { score: 1, reason: 'ok' } });
    expect(scoreFrom({ score: 1, extra: 1 })).toMatchObject({ ok: false });
    expect(scoreFrom(-0.1)).toMatchObject({ ok: false, reason: 'score -0.1 is outside [0, 1]' });
  });
});

describe('command verifiers', () => {
  // The same check as the fixture's function verifier, in a separate process: state, not claims.
  const checker = script(
    'check.js',
    `let s = ''; process.stdin.on('data', (d) => (s += d)); process.stdin.on('end', () => {
      const r = JSON.parse(s);
      const ok = r.task.metadata.notes.every((n) => r.state.notes.includes(n)) && r.state.notes.length === r.task.metadata.count && r.answer === String(r.task.metadata.count);
      process.stdout.write(JSON.stringify({ score: ok ? 1 : 0, breakdown: { notes: r.state.notes.length }, reason: ok ? 'saved and counted' : 'state does not match' }));
    });`,
  );
  const v = createVerifier({ command: process.execPath, args: ['check.js'] }, { suite: 'notes', configDir: checker });

  it('get the episode record on stdin and are read from stdout: accept, reject, not fooled', async () => {
    expect(await verifySafely(v, right, {})).toEqual({ score: 1, breakdown: { notes: 1 }, reason: 'saved and counted' });
    expect(await verifySafely(v, wrong, {})).toMatchObject({ score: 0, reason: 'state does not match' });
    expect(await verifySafely(v, fooling, {})).toMatchObject({ score: 0, reason: 'state does not match' });
  });

  it('that hang are killed (with what they started) at the timeout and score 0 with the reason', async () => {
    const dir = script('hang.js', `require('child_process').spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'inherit' }); setInterval(() => {}, 1000);`);
    const started = Date.now();
    const result = await verifySafely(createVerifier({ command: process.execPath, args: ['hang.js'], timeoutMs: 300 }, { suite: 'notes', configDir: dir }), right, {});
    expect(result).toEqual({ score: 0, reason: `verifier command \`${process.execPath} hang.js\` failed: timed out after 300 ms (process group killed)` });
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('that print garbage, nothing, an out-of-range score, or exit non-zero score 0 with the reason', async () => {
    const run = async (body: string) => {
      const dir = script('v.js', body);
      return verifySafely(createVerifier({ command: process.execPath, args: ['v.js'] }, { suite: 'notes', configDir: dir }), right, {});
    };
    expect(await run(`console.log('all good!')`)).toMatchObject({ score: 0, reason: expect.stringContaining('printed no JSON score on stdout: all good!') });
    expect(await run(``)).toMatchObject({ score: 0, reason: expect.stringContaining('printed nothing') });
    expect(await run(`console.log('2')`)).toMatchObject({ score: 0, reason: expect.stringContaining('score 2 is outside [0, 1]') });
    expect(await run(`console.error('boom'); process.exit(3)`)).toMatchObject({ score: 0, reason: expect.stringContaining('exited with code 3: boom') });
    expect(await verifySafely(createVerifier({ command: '/no/such/verifier' }, { suite: 'notes', configDir: FIXTURE }), right, {})).toMatchObject({ score: 0, reason: expect.stringContaining('could not start') });
  });
});

describe('LLM-judge verifiers', () => {
  /** A judge double that decides from the state in the prompt, as a real judge is told to. */
  const judge = (reply: (prompt: string) => string): Model & { prompts: string[] } => {
    const prompts: string[] = [];
    return {
      id: 'test:judge',
      prompts,
      async generate(request: ModelRequest) {
        const prompt = request.messages.map((m) => m.content).join('\n');
        prompts.push(prompt);
        return { text: reply(prompt), toolCalls: [], usage: { inputTokens: 1, outputTokens: 1 }, stopReason: 'end_turn', model: 'test:judge' };
      },
    };
  };
  const stateJudge = judge((prompt) => (/Final tool state:\n\{"notes":\["buy milk"\]\}/.test(prompt) ? '{"score": 1, "reason": "the note is saved"}' : '{"score": 0, "reason": "the state lacks the note"}'));
  const v = createVerifier({ judge: { rubric: 'The note must be saved and the count reported.' } }, { suite: 'notes', configDir: FIXTURE });

  it('ask the harness judge with the rubric, task, calls, state and answer; accept, reject, not fooled', async () => {
    expect(await verifySafely(v, right, { judge: stateJudge })).toEqual({ score: 1, reason: 'the note is saved', breakdown: { judge: 'test:judge' } });
    expect(stateJudge.prompts[0]).toContain('The note must be saved and the count reported.');
    expect(stateJudge.prompts[0]).toContain('1. add_note({"text":"buy milk"}) → ok: saved');
    expect(await verifySafely(v, wrong, { judge: stateJudge })).toMatchObject({ score: 0 });
    expect(await verifySafely(v, fooling, { judge: stateJudge })).toMatchObject({ score: 0, reason: 'the state lacks the note' });
  });

  it('score 0 with a clear reason without a judge model or with an unusable verdict', async () => {
    expect(await verifySafely(v, right, {})).toEqual({ score: 0, reason: expect.stringContaining('the harness names no judge model') });
    expect(await verifySafely(v, right, { judge: judge(() => 'looks fine to me') })).toEqual({ score: 0, reason: expect.stringContaining('the judge gave no usable verdict') });
  });
});
