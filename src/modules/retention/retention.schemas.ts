import { type Static, Type } from '@sinclair/typebox';

/** Retention policies (issue 11 item 1, seed 004 data_retention_policies): one per cleaned table. */
export const retentionDaysMin = 1;
export const retentionDaysMax = 36_500;
const tableNameLengthMax = 100;

const Days = (description: string) =>
  Type.Integer({ minimum: retentionDaysMin, maximum: retentionDaysMax, description, examples: [90] });
const NullableDays = (description: string) => Type.Union([Days(description), Type.Null()]);
const NullableTimestamp = Type.Union([Type.String({ format: 'date-time' }), Type.Null()]);

export const RetentionPolicySchema = Type.Object(
  {
    table_name: Type.String({ maxLength: tableNameLengthMax }),
    retention_period_days: Days('The least time a row is kept, in days.'),
    archive_after_days: NullableDays(
      'Rows older than this are copied to an archive file; null: never archived.',
    ),
    delete_after_days: NullableDays('Archived rows older than this are deleted; null: never deleted.'),
    is_active: Type.Boolean({ description: 'Whether the retention job cleans this table.' }),
    last_cleanup_at: NullableTimestamp,
    archived_through: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], {
      description: 'Every row created before this instant is in an archive file.',
    }),
    updated_at: Type.String({ format: 'date-time' }),
  },
  { additionalProperties: false },
);
export type RetentionPolicyView = Static<typeof RetentionPolicySchema>;

export const RetentionPolicyListSchema = Type.Object(
  { items: Type.Array(RetentionPolicySchema, { maxItems: 100 }) },
  { additionalProperties: false },
);

export const RetentionTableParamsSchema = Type.Object(
  {
    table: Type.String({
      minLength: 1,
      maxLength: 63,
      pattern: '^[a-z0-9_-]{1,63}$',
      description: 'The table the policy governs.',
      examples: ['api_access_log'],
    }),
  },
  { additionalProperties: false },
);

export const RetentionPolicyChangesSchema = Type.Object(
  {
    retention_period_days: Type.Optional(Days('The least time a row is kept, in days.')),
    archive_after_days: Type.Optional(NullableDays('Archive age in days; null: never archived.')),
    delete_after_days: Type.Optional(NullableDays('Delete age in days; null: never deleted.')),
    is_active: Type.Optional(Type.Boolean()),
  },
  {
    additionalProperties: false,
    minProperties: 1,
    examples: [{ archive_after_days: 30, delete_after_days: 120 }],
  },
);
export type RetentionPolicyChanges = Static<typeof RetentionPolicyChangesSchema>;
