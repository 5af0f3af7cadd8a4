#!/usr/bin/env node
// The setup hook: writes the CRM's starting knowledge graph into the episode's own memory file (argv[2]),
// before the memory server starts, so every episode begins from the same state and no episode sees another's.
import { writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

export const SEED = {
  entities: [
    { name: 'Ada Lovelace', entityType: 'customer', observations: ['plan: enterprise', 'region: EU'] },
    { name: 'Grace Hopper', entityType: 'customer', observations: ['plan: starter'] },
    { name: 'Acme Corp', entityType: 'company', observations: ['industry: manufacturing'] },
  ],
  relations: [{ from: 'Ada Lovelace', to: 'Acme Corp', relationType: 'works_at' }],
};

// Only as a command: verify.mjs imports SEED from here inside other processes, whose argv is not ours.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href && process.argv[2]) {
  const lines = [...SEED.entities.map((e) => ({ type: 'entity', ...e })), ...SEED.relations.map((r) => ({ type: 'relation', ...r }))];
  writeFileSync(process.argv[2], lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
}
