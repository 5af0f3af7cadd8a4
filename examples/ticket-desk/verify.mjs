#!/usr/bin/env node
// The ticket desk's verifier. It judges what the desk looks like after the episode (the state HarnessX read
// from the server's ticketdesk://state resource), never what the agent says it did: a transcript or tool-call
// list that claims a ticket was closed counts for nothing if the ticket is still open.
//
//   import { verify } from './verify.mjs'    verify(record) → { score, breakdown, reason }
//   node verify.mjs < record.json            the same as a command verifier: one episode record in, one score out
//
// Task metadata (tasks.jsonl) says what must hold:
//   expect.tickets   { "T-1005": { team, priority, status, assignee, commentIncludes: [..], resolutionIncludes: [..] } }
//   expect.created   [{ textIncludes: [..], requester, priority, team }]      tickets the agent must open
//   expect.answer    { kind: ticket_ids | number | agent | team | status | text, expected, excludes? }
// Every field listed is one check; the score is the share of checks that hold, and 1 only when all do.
// Changing anything the task did not ask for (another ticket, an unrequested field, an extra ticket) scores 0:
// a support agent that edits tickets nobody asked about has done harm, whatever else it got right.
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { canonicalTicketId, loadSeed, PRIORITIES, STATUSES, TEAMS } from './desk.mjs';

const SEED = loadSeed();
const SEED_TICKETS = new Map(SEED.tickets.map((t) => [t.id, t]));
const FIELDS = ['status', 'priority', 'team', 'assignee'];
const TRACKED = ['title', 'description', 'requester', 'status', 'priority', 'team', 'assignee', 'resolution'];
const ANSWER_KINDS = ['ticket_ids', 'number', 'agent', 'team', 'status', 'text'];
const NUMBER_WORDS = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten', 'eleven', 'twelve'];

/** Lower case, underscores as spaces, punctuation other than . - @ dropped, single spaces. */
export function normalize(text) {
  return String(text ?? '')
    .toLowerCase()
    .replace(/_/g, ' ')
    .replace(/[^a-z0-9.@\- ]+/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

/** Whether `phrase` occurs in `text` as whole words (after normalising both). */
function mentions(text, phrase) {
  const p = normalize(phrase).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return p !== '' && new RegExp(`(?<![a-z0-9])${p}(?![a-z0-9])`).test(normalize(text));
}

/**
 * The desk state out of whatever the record carries: the state object itself, its JSON text, an MCP resource
 * read ({ contents: [{ text }] }), a hidden tool's result ({ content: [{ text }] }), or any of these keyed by
 * tool-provider label when a suite has several providers.
 */
export function deskStateOf(state) {
  if (typeof state === 'string') {
    try {
      return deskStateOf(JSON.parse(state));
    } catch {
      return null;
    }
  }
  if (!state || typeof state !== 'object') return null;
  if (Array.isArray(state.tickets) && Array.isArray(state.users)) return state;
  for (const key of ['contents', 'content']) if (Array.isArray(state[key])) for (const part of state[key]) if (typeof part?.text === 'string') return deskStateOf(part.text);
  for (const value of Object.values(state)) {
    const found = value && typeof value === 'object' ? deskStateOf(value) : null;
    if (found) return found;
  }
  return null;
}

/**
 * Checks a task's metadata once (check-benchmark and the tests call this): a typo in an expectation would
 * otherwise make a task unsolvable or trivially solved. Throws naming the task and the field.
 */
export function checkTaskMetadata(task) {
  const at = `ticket-desk task "${task?.id}": metadata.expect`;
  const expect = task?.metadata?.expect;
  if (!expect || typeof expect !== 'object') throw new Error(`${at} is missing; it says what must hold after the episode`);
  const known = new Set(['tickets', 'created', 'answer']);
  for (const key of Object.keys(expect)) if (!known.has(key)) throw new Error(`${at}.${key}: unknown key; expected tickets, created or answer`);
  if (!expect.tickets && !expect.created && !expect.answer) throw new Error(`${at} has no expectation (tickets, created or answer)`);
  for (const [id, exp] of Object.entries(expect.tickets ?? {})) {
    if (!SEED_TICKETS.has(id)) throw new Error(`${at}.tickets.${id}: no such ticket in desk.json`);
    for (const key of Object.keys(exp)) if (![...FIELDS, 'commentIncludes', 'resolutionIncludes'].includes(key)) throw new Error(`${at}.tickets.${id}.${key}: unknown field`);
    if (exp.status !== undefined && !STATUSES.includes(exp.status)) throw new Error(`${at}.tickets.${id}.status: "${exp.status}" is not one of ${STATUSES.join(', ')}`);
    if (exp.priority !== undefined && !PRIORITIES.includes(exp.priority)) throw new Error(`${at}.tickets.${id}.priority: "${exp.priority}" is not one of ${PRIORITIES.join(', ')}`);
    if (exp.team !== undefined && !TEAMS.includes(exp.team)) throw new Error(`${at}.tickets.${id}.team: "${exp.team}" is not one of ${TEAMS.join(', ')}`);
    if (exp.assignee != null && !SEED.users.some((u) => u.id === exp.assignee)) throw new Error(`${at}.tickets.${id}.assignee: no agent "${exp.assignee}"`);
    // Every check must need work: a value desk.json already has would give credit for doing nothing (and an
    // unrequested change to it is caught as collateral anyway).
    for (const field of FIELDS)
      if (exp[field] !== undefined && exp[field] === SEED_TICKETS.get(id)[field]) throw new Error(`${at}.tickets.${id}.${field}: "${exp[field]}" is already its value in desk.json; leave it out`);
  }
  for (const [i, exp] of (expect.created ?? []).entries())
    if (!Array.isArray(exp.textIncludes) || !exp.textIncludes.length) throw new Error(`${at}.created[${i}].textIncludes: give the words the new ticket must contain`);
  if (expect.answer) {
    if (!ANSWER_KINDS.includes(expect.answer.kind)) throw new Error(`${at}.answer.kind: "${expect.answer.kind}" is not one of ${ANSWER_KINDS.join(', ')}`);
    if (expect.answer.expected === undefined) throw new Error(`${at}.answer.expected is missing`);
  }
  return task;
}

/** What an answer mentions, of one kind: the set the verifier compares with the expected one. */
function mentioned(kind, answer, desk) {
  switch (kind) {
    case 'ticket_ids':
      return new Set([...answer.matchAll(/\bT-?(\d{4})\b/gi)].map((m) => canonicalTicketId(m[1])));
    case 'number': {
      const text = normalize(answer.replace(/\bT-?\d{4}\b/gi, ' '));
      const numbers = [...text.matchAll(/(?<![a-z0-9.])\d+(?![a-z0-9])/g)].map((m) => Number(m[0]));
      const words = NUMBER_WORDS.flatMap((w, n) => (mentions(text, w) ? [n] : []));
      return new Set([...numbers, ...words]);
    }
    case 'agent':
      return new Set(desk.users.filter((u) => mentions(answer, u.id) || mentions(answer, u.name)).map((u) => u.id));
    case 'team':
      return new Set(desk.teams.filter((t) => mentions(answer, t.id) || mentions(answer, t.name)).map((t) => t.id));
    case 'status':
      return new Set(STATUSES.filter((s) => mentions(answer, s)));
  }
  return new Set();
}

function checkAnswer(spec, answer, desk) {
  if (typeof answer !== 'string' || !answer.trim()) return { ok: false, detail: 'no final answer' };
  if (spec.kind === 'text') {
    const missing = [].concat(spec.expected).filter((p) => !mentions(answer, p));
    const wrong = (spec.excludes ?? []).filter((p) => mentions(answer, p));
    return { ok: !missing.length && !wrong.length, detail: [missing.length ? `missing ${missing.join(', ')}` : '', wrong.length ? `says ${wrong.join(', ')}` : ''].filter(Boolean).join('; ') || 'matches' };
  }
  // The answer must name exactly the expected values: naming every candidate is not an answer.
  const expected = new Set([].concat(spec.expected).map((v) => (spec.kind === 'ticket_ids' ? canonicalTicketId(v) : v)));
  const got = mentioned(spec.kind, answer, desk);
  const same = got.size === expected.size && [...expected].every((v) => got.has(v));
  return { ok: same, detail: same ? 'matches' : `expected ${[...expected].join(', ')}; the answer names ${[...got].join(', ') || 'none'}` };
}

/** Comments added during the episode: the desk only appends, so they are the ones past the seed's count. */
const newComments = (ticket) => ticket.comments.slice(SEED_TICKETS.get(ticket.id)?.comments.length ?? 0).map((c) => c.body);

/** @param {import('harnessx').EpisodeRecord} record  @returns {{ score: number, breakdown: Record<string, unknown>, reason: string }} */
export function verify(record) {
  const task = checkTaskMetadata(record?.task);
  const expect = task.metadata.expect;
  const desk = deskStateOf(record.state);
  if (!desk) return { score: 0, breakdown: { state: 'missing' }, reason: 'the record carries no ticket desk state (expected the ticketdesk://state resource)' };
  const tickets = new Map(desk.tickets.map((t) => [canonicalTicketId(t.id), t]));
  const checks = {};
  const failures = [];
  const check = (name, ok, detail) => {
    checks[name] = ok;
    if (!ok) failures.push(`${name}: ${detail}`);
  };

  for (const [id, exp] of Object.entries(expect.tickets ?? {})) {
    const t = tickets.get(id);
    for (const field of FIELDS)
      if (exp[field] !== undefined) check(`${id}.${field}`, !!t && normalize(t[field]) === normalize(exp[field]), `is ${JSON.stringify(t?.[field] ?? null)}, expected ${JSON.stringify(exp[field])}`);
    if (exp.commentIncludes)
      check(`${id}.comment`, !!t && newComments(t).some((c) => exp.commentIncludes.every((p) => normalize(c).includes(normalize(p)))), `no new comment mentions ${exp.commentIncludes.join(' + ')}`);
    if (exp.resolutionIncludes)
      check(`${id}.resolution`, !!t && exp.resolutionIncludes.every((p) => normalize(t.resolution).includes(normalize(p))), `resolution ${JSON.stringify(t?.resolution ?? null)} does not mention ${exp.resolutionIncludes.join(' + ')}`);
  }

  const created = desk.tickets.filter((t) => !SEED_TICKETS.has(canonicalTicketId(t.id)));
  const claimed = new Set();
  for (const [i, exp] of (expect.created ?? []).entries()) {
    // The new ticket that matches this expectation best (each new ticket answers one expectation).
    const fields = (t) => [exp.textIncludes.every((p) => normalize(`${t.title} ${t.description}`).includes(normalize(p))), ...['requester', 'priority', 'team'].filter((f) => exp[f] !== undefined).map((f) => normalize(t[f]) === normalize(exp[f]))];
    const best = created.filter((t) => !claimed.has(t.id)).sort((a, b) => fields(b).filter(Boolean).length - fields(a).filter(Boolean).length)[0];
    if (best) claimed.add(best.id);
    check(`created[${i}].text`, !!best && exp.textIncludes.every((p) => normalize(`${best.title} ${best.description}`).includes(normalize(p))), best ? `${best.id} does not mention ${exp.textIncludes.join(' + ')}` : 'no new ticket');
    for (const f of ['requester', 'priority', 'team'])
      if (exp[f] !== undefined) check(`created[${i}].${f}`, !!best && normalize(best[f]) === normalize(exp[f]), best ? `${best.id} has ${f} ${JSON.stringify(best[f])}, expected ${JSON.stringify(exp[f])}` : 'no new ticket');
  }

  let answer;
  if (expect.answer) {
    answer = checkAnswer(expect.answer, record.answer, desk);
    check('answer', answer.ok, answer.detail);
  }

  // Collateral: everything that changed and was not asked for.
  const collateral = [];
  for (const seed of SEED.tickets) {
    const t = tickets.get(seed.id);
    if (!t) {
      collateral.push(`${seed.id} is gone`);
      continue;
    }
    const exp = expect.tickets?.[seed.id] ?? {};
    const allowed = new Set([...FIELDS.filter((f) => exp[f] !== undefined), ...(exp.resolutionIncludes || exp.status !== undefined ? ['resolution'] : [])]);
    for (const field of TRACKED) if (!allowed.has(field) && JSON.stringify(t[field] ?? null) !== JSON.stringify(seed[field] ?? null)) collateral.push(`${seed.id}.${field} changed to ${JSON.stringify(t[field])}`);
    if (!exp.commentIncludes && newComments(t).length) collateral.push(`${seed.id} got an unrequested comment`);
  }
  for (const t of created) if (!claimed.has(t.id)) collateral.push(`${t.id} was opened but the task asked for no such ticket`);

  const names = Object.keys(checks);
  const passed = names.filter((n) => checks[n]).length;
  const score = collateral.length ? 0 : passed / names.length;
  const breakdown = { checks, passed, total: names.length, collateral, ...(answer ? { answer: answer.detail } : {}) };
  const reason = collateral.length
    ? `changed what the task did not ask for: ${collateral.join('; ')}`
    : failures.length
      ? `${passed}/${names.length} checks hold; ${failures.join('; ')}`
      : `all ${names.length} checks hold`;
  return { score, breakdown, reason };
}

// As a command verifier: one JSON episode record on stdin, one JSON score on stdout.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  let record;
  try {
    record = JSON.parse(readFileSync(0, 'utf8'));
  } catch (error) {
    process.stderr.write(`verify.mjs: stdin is not one JSON episode record: ${error.message}\n`);
    process.exit(2);
  }
  process.stdout.write(`${JSON.stringify(verify(record))}\n`);
}
