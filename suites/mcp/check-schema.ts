import Ajv from 'ajv';
import Ajv2019 from 'ajv/dist/2019';
import Ajv2020 from 'ajv/dist/2020';
import draft06 from 'ajv/dist/refs/json-schema-draft-06.json';

/**
 * Whether a tool's inputSchema is a JSON Schema at all, judged by Ajv (the validator the MCP SDK itself
 * uses) against the meta-schema of the schema's own dialect. The SDK checks only that it is an object with
 * type "object"; a schema with `"type": "integr"` or `"required": "id"` would otherwise reach the model
 * provider (which rejects the whole request) or argument validation (which would then check nothing).
 *
 * Returns the problem in words, or undefined when the schema is sound.
 */
export function schemaProblem(schema: Record<string, unknown>): string | undefined {
  const key = JSON.stringify(schema);
  if (verdicts.has(key)) return verdicts.get(key) ?? undefined;
  const verdict = judge(schema);
  if (verdicts.size >= MAX_REMEMBERED) verdicts.delete(verdicts.keys().next().value as string);
  verdicts.set(key, verdict ?? null);
  return verdict;
}

/** A server is started per episode; its tools/list is the same each time, so each schema is judged once. */
const verdicts = new Map<string, string | null>();
const MAX_REMEMBERED = 2_000;

/** One validator per dialect: building one compiles its meta-schema, which costs far more than a check. */
const validators = new Map<string, Ajv>();

function validatorFor(dialect: 'draft-06' | 'draft-07' | '2019-09' | '2020-12'): Ajv {
  let ajv = validators.get(dialect);
  if (!ajv) {
    // addUsedSchema: false keeps compiled schemas out of the instance, so two servers may reuse an $id.
    const options = { strict: false, validateFormats: false, allErrors: true, logger: false as const, addUsedSchema: false };
    ajv = dialect === '2020-12' ? new Ajv2020(options) : dialect === '2019-09' ? new Ajv2019(options) : new Ajv(options);
    if (dialect === 'draft-06') ajv.addMetaSchema(draft06);
    validators.set(dialect, ajv);
  }
  return ajv;
}

function judge(schema: Record<string, unknown>): string | undefined {
  const dialect = typeof schema.$schema === 'string' ? schema.$schema : undefined;
  let ajv: Ajv;
  let candidate = schema;
  // MCP (2025-11-25) reads a schema without $schema as JSON Schema 2020-12.
  if (dialect === undefined || /json-schema\.org\/draft\/2020-12\/schema/.test(dialect)) ajv = validatorFor('2020-12');
  else if (/json-schema\.org\/draft\/2019-09\/schema/.test(dialect)) ajv = validatorFor('2019-09');
  else if (/json-schema\.org\/draft-07\/schema/.test(dialect)) ajv = validatorFor('draft-07');
  else if (/json-schema\.org\/draft-06\/schema/.test(dialect)) ajv = validatorFor('draft-06');
  else {
    // Draft-04 and dialects Ajv does not ship: judged as draft-07, the nearest it knows, rather than refused.
    ajv = validatorFor('draft-07');
    const { $schema: _ignored, ...rest } = schema;
    candidate = rest;
  }
  let valid: boolean;
  try {
    valid = ajv.validateSchema(candidate) as boolean;
  } catch (e) {
    return (e as Error).message;
  }
  if (!valid) return ajv.errorsText(ajv.errors, { dataVar: 'inputSchema', separator: '; ' });
  try {
    // Compiling finds what the meta-schema cannot: a $ref to nowhere, a pattern that is not a regex.
    ajv.compile(candidate);
  } catch (e) {
    return (e as Error).message;
  }
  return undefined;
}
