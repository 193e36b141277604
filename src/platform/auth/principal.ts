import { AppError } from '../errors.ts';
import type { RoleName } from './permissions.ts';

/**
 * Who is calling: set on the request by the authentication guard after it has verified the access
 * token and found its session active. Services receive it (never raw tokens).
 */
export interface Principal {
  tenantId: string;
  userId: string;
  sessionId: string;
  role: RoleName;
  isStaff: boolean;
  /** seed 000: 0 inactive (cannot log in), 1 active, 2 blocked (cannot move money). */
  status: 0 | 1 | 2;
  permissions: ReadonlySet<string>;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
}

export function requirePrincipal(request: { principal?: Principal }): Principal {
  if (!request.principal) throw new AppError('UNAUTHENTICATED');
  return request.principal;
}
