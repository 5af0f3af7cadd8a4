/** Native structured output is a capability of a Model (harness/), which providers here implement. */
export * from '../harness/structured-model';
