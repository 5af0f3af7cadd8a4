import type { ModelResponse } from '../../harness/types';

export function mapAnthropicStopReason(reason: string | null | undefined): ModelResponse['stopReason'] {
  switch (reason) {
    case 'tool_use':
      return 'tool_use';
    case 'max_tokens':
      return 'max_tokens';
    case 'refusal':
      return 'error';
    default:
      return 'end_turn';
  }
}
