import { Type } from '@sinclair/typebox';
import { EmailSchema, PasswordSchema } from './identity.schemas.ts';

/** The request and response schemas of the email account routes (email-account.routes.ts). */
export const LinkTokenSchema = Type.String({ minLength: 20, maxLength: 200 });

export const RegisterBodySchema = Type.Object(
  { email: EmailSchema, password: PasswordSchema, name: Type.String({ minLength: 1, maxLength: 255 }) },
  {
    additionalProperties: false,
    examples: [
      { email: 'budi@example.com', password: 'a long and unusual passphrase', name: 'Budi Santoso' },
    ],
  },
);

export const TokenBodySchema = Type.Object(
  { token: LinkTokenSchema },
  { additionalProperties: false, examples: [{ token: 'p5Yq3nW…' }] },
);

export const ForgotBodySchema = Type.Object(
  { email: EmailSchema },
  { additionalProperties: false, examples: [{ email: 'budi@example.com' }] },
);

export const ResetBodySchema = Type.Object(
  { token: LinkTokenSchema, new_password: PasswordSchema },
  { additionalProperties: false, examples: [{ token: 'p5Yq3nW…', new_password: 'another long passphrase' }] },
);

export const ChangeBodySchema = Type.Object(
  {
    current_password: PasswordSchema,
    new_password: PasswordSchema,
    end_other_sessions: Type.Boolean({ default: false }),
  },
  {
    additionalProperties: false,
    examples: [
      {
        current_password: 'the old passphrase',
        new_password: 'a new long passphrase',
        end_other_sessions: true,
      },
    ],
  },
);

export const ChangedResponseSchema = Type.Object(
  { message: Type.String(), sessions_ended: Type.Integer() },
  { examples: [{ message: 'Password changed.', sessions_ended: 2 }] },
);
