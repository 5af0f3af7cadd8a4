import { z } from 'zod';
import { validateToolArgs } from '../../harness/processors/tools';
import { toJsonSchema } from '../../models/tool-schema';
import { functionTool, functionToolProvider } from '../../suites/function-tools';
import { toolSpecFromJsonSchema } from '../../suites/tool-spec';

const addNote = functionTool<{ title: z.ZodString; priority: z.ZodOptional<z.ZodNumber> }, { notes: string[] }>({
  name: 'add_note',
  description: 'Adds a note.',
  parameters: z.object({ title: z.string().min(1), priority: z.number().int().optional() }),
  execute: ({ title }, { state }) => {
    if (title === 'boom') throw new Error('disk full');
    state.notes.push(title);
    return { saved: title };
  },
});

describe('function tools', () => {
  const provider = functionToolProvider([addNote], { where: 'cfg.ts: suites.notes', initialState: () => ({ notes: [] as string[] }) });

  it('describe themselves with the zod schema as JSON Schema, required and optional kept', async () => {
    const session = await provider.open({ suite: 'notes', taskId: 't1', seed: 's' });
    const [spec] = session.specs;
    expect(spec.parameters).toEqual({ title: { type: 'string', description: 'title' }, priority: { type: 'integer', description: 'priority', optional: true } });
    expect(toJsonSchema(spec)).toMatchObject({ type: 'object', required: ['title'], properties: { title: { type: 'string', minLength: 1 } } });
  });

  it('run with a fresh state per session, and turn bad arguments and throws into tool errors', async () => {
    const a = await provider.open({ suite: 'notes', taskId: 't1', seed: 's' });
    const b = await provider.open({ suite: 'notes', taskId: 't1', seed: 's' });
    expect(await a.call({ id: '1', name: 'add_note', args: { title: 'milk' } })).toEqual({ ok: true, output: '{"saved":"milk"}' });
    expect(await a.state()).toEqual({ notes: ['milk'] });
    expect(await b.state()).toEqual({ notes: [] });
    expect(await a.call({ id: '2', name: 'add_note', args: { title: 3 } })).toMatchObject({ ok: false, errorKind: 'bad_arguments' });
    expect(await a.call({ id: '3', name: 'add_note', args: { title: 'boom' } })).toEqual({ ok: false, output: 'add_note failed: disk full', errorKind: 'precondition' });
    expect(await a.call({ id: '4', name: 'nope', args: {} })).toMatchObject({ ok: false, errorKind: 'unknown_tool' });
    await a.close();
    expect(await a.call({ id: '5', name: 'add_note', args: { title: 'x' } })).toMatchObject({ ok: false });
  });

  it('refuse a bad declaration with where it is', () => {
    expect(() => functionToolProvider([{ ...addNote, parameters: { title: 'string' } }], { where: 'cfg.ts: suites.notes' })).toThrow('cfg.ts: suites.notes: tools[0] ("add_note"): parameters must be a zod object schema');
    expect(() => functionToolProvider([addNote, addNote], { where: 'cfg.ts: suites.notes' })).toThrow('a second tool named "add_note"');
  });
});

describe('user tool schemas in the argument-validation processor', () => {
  const spec = toolSpecFromJsonSchema('create_ticket', 'Opens a ticket.', {
    type: 'object',
    properties: { subject: { type: 'string', description: 'One line' }, urgency: { type: 'integer' }, tags: { type: 'array', items: { type: 'string' } } },
    required: ['subject', 'urgency'],
    additionalProperties: false,
  });
  it('accepts well-typed arguments and rejects wrong types, missing and unknown keys', () => {
    expect(validateToolArgs(spec, { subject: 'VPN down', urgency: 2, tags: ['net'] }, false)).toEqual({ ok: true, args: { subject: 'VPN down', urgency: 2, tags: ['net'] } });
    expect(validateToolArgs(spec, { subject: 'VPN down', urgency: 'high' }, false).ok).toBe(false);
    expect(validateToolArgs(spec, { urgency: 2 }, false).ok).toBe(false);
    expect(validateToolArgs(spec, { subject: 'x', urgency: 1, extra: true }, false).ok).toBe(false);
  });
});

describe('argument repair on user tools', () => {
  const spec = toolSpecFromJsonSchema('update_ticket', 'Updates a ticket.', {
    type: 'object',
    properties: { id: { type: 'string' }, priority: { type: 'string', enum: ['low', 'high'] }, comment: { type: 'string' } },
    required: ['id'],
    additionalProperties: false,
  });
  it('repairs the case of an enum value and leaves free text as written', () => {
    expect(validateToolArgs(spec, { id: 'T-1', priority: ' High', comment: 'The VPN is DOWN' }, true)).toEqual({ ok: true, args: { id: 'T-1', priority: 'high', comment: 'The VPN is DOWN' } });
    expect(validateToolArgs(spec, { id: 'T-1', priority: 'urgent' }, true).ok).toBe(false);
  });
});
