import type { ModelResponse } from '../../harness/types';

export function mapOpenAIFinishReason(reason: string | null | undefined): ModelResponse['stopReason'] {
  switch (reason) {
    case 'tool_calls':
    case 'function_call':
      return 'tool_use';
    case 'length':
      return 'max_tokens';
    case 'content_filter':
      return 'error';
    default:
      return 'end_turn';
  }
}
