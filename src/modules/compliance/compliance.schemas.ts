import { type Static, Type } from '@sinclair/typebox';
import type { ComplianceReportType } from '../../db/schema.ts';
import { CursorQuerySchema, NextCursorSchema } from '../../platform/pagination.ts';
import { DateTimeSchema, PageLimitSchema } from '../../platform/schema-types.ts';

/** The report types of issue 11 item 4; migration 0020 CHECKs report_type against the same list. */
export const reportTypes = [
  'daily_transaction_summary',
  'large_transactions',
  'login_failure_summary',
  'kyc_status_summary',
  'security_incident_summary',
  'audit_integrity_attestation',
] as const satisfies readonly ComplianceReportType[];
export type ReportType = (typeof reportTypes)[number];

export function isReportType(value: string): value is ReportType {
  return (reportTypes as readonly string[]).includes(value);
}

const ReportTypeSchema = Type.Union(
  reportTypes.map((type) => Type.Literal(type)),
  { description: 'The report type.' },
);

export const ReportBodySchema = Type.Object(
  {
    type: ReportTypeSchema,
    from: DateTimeSchema({
      description: 'Start of the period, inclusive.',
      examples: ['2026-12-01T00:00:00Z'],
    }),
    to: DateTimeSchema({
      description: 'End of the period, exclusive; after from, at most 366 days later and not in the future.',
      examples: ['2026-12-02T00:00:00Z'],
    }),
  },
  { additionalProperties: false },
);
export type ReportBody = Static<typeof ReportBodySchema>;

export const SubmissionBodySchema = Type.Object(
  {
    authority_acknowledgment: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 255,
        description: "The authority's acknowledgment (a receipt number or reference).",
        examples: ['OJK-2026-000123'],
      }),
    ),
    submission_date: Type.Optional(
      DateTimeSchema({ description: 'When the report was submitted; now when omitted. Not in the future.' }),
    ),
  },
  { additionalProperties: false },
);
export type SubmissionBody = Static<typeof SubmissionBodySchema>;

const nullableTime = () => Type.Union([Type.String({ format: 'date-time' }), Type.Null()]);

const reportFields = {
  id: Type.String({ format: 'uuid' }),
  report_type: Type.String(),
  report_period_start: Type.String({ format: 'date-time' }),
  report_period_end: Type.String({ format: 'date-time' }),
  total_records: Type.Integer(),
  report_hash: Type.String({ description: 'SHA-256 hex of the RFC 8785 canonical JSON of report_data.' }),
  generated_by: Type.String(),
  created_by: Type.Union([Type.String({ format: 'uuid' }), Type.Null()]),
  created_at: Type.String({ format: 'date-time' }),
  submitted_to_authority: Type.Boolean(),
  submission_date: nullableTime(),
  authority_acknowledgment: Type.Union([Type.String(), Type.Null()]),
};

export const ReportSummarySchema = Type.Object(reportFields);
export type ReportSummaryView = Static<typeof ReportSummarySchema>;

export const ReportSchema = Type.Object({
  ...reportFields,
  report_data: Type.Record(Type.String(), Type.Unknown(), {
    description: 'The report itself: what report_hash covers.',
  }),
});
export type ReportView = Static<typeof ReportSchema>;

export const ReportListQuerySchema = Type.Object(
  {
    type: Type.Optional(ReportTypeSchema),
    limit: PageLimitSchema(50),
    cursor: CursorQuerySchema,
  },
  { additionalProperties: false },
);
export type ReportListQuery = Static<typeof ReportListQuerySchema>;

export const ReportListSchema = Type.Object({
  reports: Type.Array(ReportSummarySchema, { maxItems: 100 }),
  next_cursor: NextCursorSchema,
});

export const DownloadQuerySchema = Type.Object(
  {
    format: Type.Union([Type.Literal('json'), Type.Literal('csv')], {
      default: 'json',
      description: 'json: the report with its hash; csv: its rows, one line each, under a header.',
    }),
  },
  { additionalProperties: false },
);
export type DownloadFormat = Static<typeof DownloadQuerySchema>['format'];

export const VerificationSchema = Type.Object({
  id: Type.String({ format: 'uuid' }),
  valid: Type.Boolean({
    description: 'Whether the stored hash is the hash of the stored data, and the columns agree with it.',
  }),
  report_hash: Type.String(),
  computed_hash: Type.String(),
  audited_hash: Type.Union([Type.String(), Type.Null()], {
    description: 'The hash recorded in the (hash-chained) audit row of the generation.',
  }),
  problems: Type.Array(Type.String(), { maxItems: 10 }),
});
export type VerificationView = Static<typeof VerificationSchema>;
