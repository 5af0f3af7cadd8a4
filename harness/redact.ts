/**
 * Keeping secrets out of what leaves the process: logs, traces, workflow histories, telemetry spans. Lives
 * in harness/ (the bottom layer) so that the run loop's spans and the model providers' errors share it.
 */

/** Removes any configured secret from a text before it can reach a log, trace or history. */
export function redact(text: string, secrets: Array<string | undefined>): string {
  let out = text;
  for (const s of secrets) if (s && s.length >= 6) out = out.split(s).join('[redacted]');
  return out;
}

/** Environment variables whose values are credentials: API keys, tokens, passwords, codec keys. */
const SECRET_NAME = /(KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL)/i;

/**
 * The values of the credential-looking environment variables (OPENAI_API_KEY, ANTHROPIC_API_KEY,
 * TEMPORAL_API_KEY, HARNESSX_CODEC_KEY, …): what content captured from a model or tool call is redacted
 * against, since a tool or a model may echo a key it was configured with.
 */
export function secretsFromEnvironment(env: Readonly<Record<string, string | undefined>> = process.env): string[] {
  return Object.entries(env)
    .filter(([name, value]) => SECRET_NAME.test(name) && typeof value === 'string' && value.length >= 6)
    .map(([, value]) => value as string);
}
