import type { LightMyRequestResponse } from 'fastify';

/** The error code of an answer, or its status code when it is not an error. */
export function answerCode(response: LightMyRequestResponse): string {
  const body = response.json() as { error?: { code: string } };
  return body.error?.code ?? String(response.statusCode);
}

/** How many answers of a burst had each error code (or success status). */
export function tally(responses: LightMyRequestResponse[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const response of responses) counts[answerCode(response)] = (counts[answerCode(response)] ?? 0) + 1;
  return counts;
}
