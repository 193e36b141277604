import { type Static, Type } from '@sinclair/typebox';
import { documentVersionLengthMax, documentVersionPattern } from '../../config/consent-config.ts';

/**
 * Consent (issue 11 item 6). Purposes: `terms` (terms and conditions) and `privacy` (privacy policy)
 * are documents accepted at a version; `marketing` and `data_sharing` (with one named recipient, the
 * CDR case) are permissions the customer grants and may withdraw.
 */
export const documentPurposes = ['terms', 'privacy'] as const;

/** At most this many data-sharing recipients in force per customer, so one cannot grow the table without bound. */
export const dataSharingRecipientsMax = 20;
/** GET /v1/me/consents returns at most this many history entries, newest first. */
export const consentHistoryMax = 100;
export const recipientLengthMax = 100;

const PurposeSchema = Type.Union(
  [Type.Literal('terms'), Type.Literal('privacy'), Type.Literal('marketing'), Type.Literal('data_sharing')],
  { description: 'terms, privacy, marketing or data_sharing.' },
);
const DocumentPurposeSchema = Type.Union([Type.Literal('terms'), Type.Literal('privacy')]);

const VersionSchema = Type.String({
  minLength: 1,
  maxLength: documentVersionLengthMax,
  pattern: documentVersionPattern.source,
  description:
    'Required to grant terms or privacy, and must be the current version (TERMS_VERSION, PRIVACY_POLICY_VERSION); not allowed otherwise.',
  examples: ['2026-12-01'],
});

/**
 * Refused in a recipient: C0 and C1 control characters (the column's CHECK refuses [[:cntrl:]], which
 * includes C1), line and paragraph separators, and the bidirectional overrides and isolates that make
 * a name shown to the customer and in the audit read otherwise than it is.
 */
const recipientRefused = '\\x00-\\x1f\\x7f-\\x9f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069';

/** A name as people write it: none of the refused characters, no leading or trailing space. */
const RecipientSchema = Type.String({
  minLength: 1,
  maxLength: recipientLengthMax,
  pattern: `^[^\\s${recipientRefused}](?:[^${recipientRefused}]*[^\\s${recipientRefused}])?$`,
  description: 'The accredited data recipient the customer shares their data with (CDR).',
  examples: ['Budget Buddy Pty Ltd'],
});

const Timestamp = Type.String({ format: 'date-time' });
const NullableTimestamp = Type.Union([Timestamp, Type.Null()]);

export const ConsentSchema = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    purpose: PurposeSchema,
    document_version: Type.String({ maxLength: documentVersionLengthMax }),
    recipient: Type.Union([Type.String({ maxLength: recipientLengthMax }), Type.Null()]),
    status: Type.Union([Type.Literal('in_force'), Type.Literal('withdrawn'), Type.Literal('superseded')]),
    granted_at: Timestamp,
    withdrawn_at: NullableTimestamp,
    superseded_at: NullableTimestamp,
  },
  { additionalProperties: false },
);
export type ConsentView = Static<typeof ConsentSchema>;

const exampleConsent: ConsentView = {
  id: '0193a5c2-7d1e-7b3c-9f00-5a1f3c2b4d70',
  purpose: 'terms',
  document_version: '2026-12-01',
  recipient: null,
  status: 'in_force',
  granted_at: '2026-12-07T10:00:00.000Z',
  withdrawn_at: null,
  superseded_at: null,
};

export const RequiredDocumentSchema = Type.Object(
  { purpose: DocumentPurposeSchema, version: Type.String({ maxLength: documentVersionLengthMax }) },
  { additionalProperties: false },
);

/** What a login and GET /v1/me/consents say about the documents the customer still has to accept. */
export const ConsentStatusProperties = {
  consent_required: Type.Boolean({
    description:
      'True when the customer has not accepted the current version of the terms or the privacy policy: accept each of required_documents with POST /v1/me/consents.',
  }),
  required_documents: Type.Array(RequiredDocumentSchema, { maxItems: documentPurposes.length }),
};

export const ConsentsResponseSchema = Type.Object(
  {
    ...ConsentStatusProperties,
    in_force: Type.Array(ConsentSchema, {
      maxItems: documentPurposes.length + 1 + dataSharingRecipientsMax,
      description: 'The current view: every consent in force now, one per purpose (and recipient).',
    }),
    history: Type.Array(ConsentSchema, {
      maxItems: consentHistoryMax,
      description: `Every grant, in force or ended, newest first (at most ${consentHistoryMax}).`,
    }),
    history_truncated: Type.Boolean({ description: 'True when older entries exist beyond history.' }),
  },
  {
    additionalProperties: false,
    examples: [
      {
        consent_required: false,
        required_documents: [],
        in_force: [exampleConsent],
        history: [exampleConsent],
        history_truncated: false,
      },
    ],
  },
);
export type ConsentsResponse = Static<typeof ConsentsResponseSchema>;

export const ConsentChangeSchema = Type.Object(
  {
    purpose: PurposeSchema,
    action: Type.Union([Type.Literal('grant'), Type.Literal('withdraw')]),
    version: Type.Optional(VersionSchema),
    recipient: Type.Optional(RecipientSchema),
  },
  {
    additionalProperties: false,
    examples: [
      { purpose: 'terms', action: 'grant', version: '1' },
      { purpose: 'marketing', action: 'withdraw' },
      { purpose: 'data_sharing', action: 'grant', recipient: 'Budget Buddy Pty Ltd' },
    ],
  },
);
export type ConsentChange = Static<typeof ConsentChangeSchema>;

export const ConsentChangeResponseSchema = Type.Object(
  {
    consent: ConsentSchema,
    changed: Type.Boolean({
      description:
        'False when the consent was already in that state (a repeated grant): nothing was written.',
    }),
  },
  { additionalProperties: false, examples: [{ consent: exampleConsent, changed: true }] },
);
