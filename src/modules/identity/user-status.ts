/** users.status (migration 0002, seed 000): what each value of the smallint means. */
export const userStatus = { inactive: 0, active: 1, blocked: 2 } as const;

export type UserStatus = (typeof userStatus)[keyof typeof userStatus];
