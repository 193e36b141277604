import { Type } from '@sinclair/typebox';
import { PinSchema } from './identity.schemas.ts';

/** The request and response schemas of the PIN change (pin-change.routes.ts). */
export const PinChangeBodySchema = Type.Object(
  {
    current_pin: PinSchema,
    new_pin: PinSchema,
    end_other_sessions: Type.Boolean({ default: false }),
  },
  {
    additionalProperties: false,
    examples: [{ current_pin: '123456', new_pin: '730519', end_other_sessions: true }],
  },
);

export const PinChangedResponseSchema = Type.Object(
  { message: Type.String(), sessions_ended: Type.Integer() },
  { examples: [{ message: 'PIN changed.', sessions_ended: 1 }] },
);
