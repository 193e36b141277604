import { generateKeyPairSync, randomBytes } from 'node:crypto';

/** Every secret production requires, freshly generated: for tests that start the server with NODE_ENV=production. */
export function productionSecrets(): Record<string, string> {
  const { privateKey } = generateKeyPairSync('ed25519');
  const checkpointKey = generateKeyPairSync('ed25519').privateKey;
  const hex = () => randomBytes(32).toString('hex');
  return {
    NODE_ENV: 'production',
    AUDIT_HMAC_KEY: hex(),
    PIN_PEPPER: hex(),
    SECRET_TOKEN_KEY: hex(),
    MFA_ENCRYPTION_KEY: hex(),
    JWT_PRIVATE_KEY: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    JWT_KEY_ID: 'test-key-1',
    AUDIT_CHECKPOINT_SIGNING_KEY: checkpointKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
  };
}
