import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { publicJwks } from '../../platform/auth/access-token.ts';
import { registerAuthGuard } from '../../platform/auth/auth-guard.ts';
import { consentsRoutes } from '../consents/consents.routes.ts';
import { dataExportRoutes } from '../data-exports/data-exports.routes.ts';
import { devOutboxRoutes } from '../dev-outbox/dev-outbox.routes.ts';
import { createMessageSender, MessageOutbox, type MessageSender } from '../dev-outbox/message-outbox.ts';
import { erasureRoutes } from '../erasure/erasure.routes.ts';
import { mfaRoutes } from '../mfa/mfa.routes.ts';
import { profileRoutes } from '../profile/profile.routes.ts';
import { sessionRoutes } from '../sessions/sessions.routes.ts';
import { staffUserRoutes } from '../staff/staff-users.routes.ts';
import { bankingLoginRoutes } from './banking-login.routes.ts';
import { emailAccountRoutes } from './email-account.routes.ts';
import { passwordLoginRoutes } from './password-login.routes.ts';
import { pinChangeRoutes } from './pin-change.routes.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** SMS and email delivery: the development outbox outside production. */
    messages: MessageSender;
  }
}

const JwksSchema = Type.Object(
  { keys: Type.Array(Type.Record(Type.String(), Type.Unknown())) },
  {
    examples: [
      {
        keys: [
          {
            kty: 'OKP',
            crv: 'Ed25519',
            x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo',
            kid: 'k1',
            alg: 'EdDSA',
            use: 'sig',
          },
        ],
      },
    ],
  },
);

const jwksRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const document = await publicJwks(app.config.authentication);
  app.get(
    '/.well-known/jwks.json',
    {
      config: { permission: 'public' },
      schema: {
        tags: ['auth'],
        summary: 'Public keys that verify access tokens',
        response: { 200: JwksSchema },
      },
    },
    async () => document,
  );
};

/**
 * Identity, sessions, MFA, profile and staff management. The guard goes on the root instance so it
 * covers every module's routes; call this before registering any module whose routes need a principal.
 */
export async function registerIdentity(app: FastifyInstance): Promise<void> {
  registerAuthGuard(app);
  const messages = createMessageSender(app.config);
  app.decorate('messages', messages);
  await app.register(jwksRoutes);
  await app.register(bankingLoginRoutes);
  await app.register(passwordLoginRoutes);
  await app.register(emailAccountRoutes);
  await app.register(pinChangeRoutes);
  await app.register(sessionRoutes);
  await app.register(profileRoutes);
  await app.register(consentsRoutes);
  await app.register(dataExportRoutes);
  await app.register(erasureRoutes);
  await app.register(mfaRoutes);
  await app.register(staffUserRoutes);
  if (messages instanceof MessageOutbox && app.config.environment !== 'production') {
    await app.register(devOutboxRoutes, { outbox: messages });
  }
}
