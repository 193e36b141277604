// biome-ignore lint/suspicious/noExplicitAny: replaced by the full schema types.
export type Database = any;
