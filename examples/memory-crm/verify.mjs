// The memory CRM's verifier: it reads the final knowledge graph (HarnessX reads the memory server's
// memory://knowledge-graph resource after the episode) and checks what the task's metadata expects. Anything
// the task did not ask for (another entity, observation or relation changed) scores 0.
//
// metadata.expect: { entities?: { [name]: { entityType?, observations: [...] } | null }, relations?: [{ from, to, relationType }] }
//   an entity mapped to null must be gone; listed observations are the entity's full list (order ignored).
import { SEED } from './seed.mjs';

const key = (r) => `${r.from}\u0000${r.relationType}\u0000${r.to}`;
const sorted = (xs) => [...xs].sort();

export function verify(record) {
  const graph = record.state ?? {};
  const entities = new Map((graph.entities ?? []).map((e) => [e.name, e]));
  const relations = new Set((graph.relations ?? []).map(key));
  const expect = record.task.metadata?.expect ?? {};
  const problems = [];
  const wanted = new Map(SEED.entities.map((e) => [e.name, e]));
  for (const [name, e] of Object.entries(expect.entities ?? {})) {
    if (e === null) wanted.delete(name);
    else wanted.set(name, { name, entityType: e.entityType ?? wanted.get(name)?.entityType, observations: e.observations });
  }
  for (const [name, e] of wanted) {
    const got = entities.get(name);
    if (!got) problems.push(`entity "${name}" missing`);
    else if (got.entityType !== e.entityType) problems.push(`entity "${name}" has type ${got.entityType}, expected ${e.entityType}`);
    else if (JSON.stringify(sorted(got.observations)) !== JSON.stringify(sorted(e.observations))) problems.push(`entity "${name}" observations ${JSON.stringify(got.observations)}, expected ${JSON.stringify(e.observations)}`);
  }
  for (const name of entities.keys()) if (!wanted.has(name)) problems.push(`unexpected entity "${name}"`);
  const wantedRelations = new Set([...SEED.relations, ...(expect.relations ?? [])].filter((r) => wanted.has(r.from) && wanted.has(r.to)).map(key));
  for (const r of wantedRelations) if (!relations.has(r)) problems.push(`relation ${r.replaceAll('\u0000', ' ')} missing`);
  for (const r of relations) if (!wantedRelations.has(r)) problems.push(`unexpected relation ${r.replaceAll('\u0000', ' ')}`);
  return problems.length ? { score: 0, reason: problems.join('; ') } : { score: 1, reason: 'the graph is as the task asked; other entities unchanged' };
}
