import { bundleCatalogue, processorCatalogue } from '../../aegis/llm/prompts';
import type { Commands } from '../options';

export const commands: Commands = {
  /**
   * The processor library for users: every processor (type, hooks, params schema, one line) and every
   * bundle. With --json the last line is one object { processors, bundles } (the catalogue the meta-agent sees).
   */
  processors: async (args) => {
    const processors = processorCatalogue() as Array<{ type: string; dimension: string; hooks: string[]; singletonGroup: string | null; description: string; params: unknown }>;
    const bundles = bundleCatalogue();
    if (args.includes('--json')) {
      console.log(JSON.stringify({ processors, bundles }));
      return;
    }
    for (const p of processors) {
      const props = typeof p.params === 'object' && p.params && 'properties' in p.params ? Object.keys((p.params as { properties: object }).properties) : [];
      console.log(`${p.type.padEnd(22)} ${p.dimension.padEnd(13)} ${p.hooks.join(',').padEnd(24)} ${p.description}${props.length ? `\n${' '.repeat(23)}params: ${props.join(', ')}` : ''}`);
    }
    console.log('\nBundles (apply one as the edit {"op":"bundle","name":"<name>"}):');
    for (const b of bundles) console.log(`${`${b.name}@${b.version}`.padEnd(16)} ${b.description}\n${' '.repeat(17)}${b.processors.join(', ')}`);
  },
};
