import { Type } from '@sinclair/typebox';
import { IdParamsSchema, UuidSchema } from '../../platform/schema-types.ts';
import { PinSchema } from '../identity/identity.schemas.ts';

/** The request and response schemas of the erasure routes (erasure.routes.ts). */
export const OwnErasureBodySchema = Type.Object(
  {
    pin: PinSchema,
    // An explicit acknowledgement: the erasure closes the account and cannot be undone.
    confirm: Type.Literal('ERASE MY ACCOUNT'),
  },
  { additionalProperties: false, examples: [{ pin: '123456', confirm: 'ERASE MY ACCOUNT' }] },
);

export const ErasureUserParamsSchema = IdParamsSchema('The customer whose personal data is erased');

export const ErasureResponseSchema = Type.Object(
  {
    erasure_id: UuidSchema(),
    user_id: UuidSchema(),
    sessions_ended: Type.Integer({ minimum: 0 }),
    audit_entries_erased: Type.Integer({ minimum: 0 }),
  },
  {
    examples: [
      {
        erasure_id: '0193a1b2-0000-7000-8000-000000000001',
        user_id: '0193a1b2-0000-7000-8000-000000000002',
        sessions_ended: 1,
        audit_entries_erased: 12,
      },
    ],
  },
);
