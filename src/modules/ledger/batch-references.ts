import { AppError } from '../../platform/errors.ts';

/** Customer batches and staff disbursements: two items of a batch with the same reference are a client error: each outcome must be findable. */
export function assertUniqueReferences(transfers: readonly { reference?: string | undefined }[]): void {
  const seen = new Map<string, number>();
  for (const [index, item] of transfers.entries()) {
    if (item.reference === undefined) continue;
    const first = seen.get(item.reference);
    if (first !== undefined) {
      throw new AppError('VALIDATION_FAILED', undefined, [
        {
          field: `body.transfers.${index}.reference`,
          reason: `repeats the reference of body.transfers.${first}`,
        },
      ]);
    }
    seen.set(item.reference, index);
  }
}
