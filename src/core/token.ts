/** API tokens: what a role may do. */
export const TOKEN_ROLES = ['admin', 'read'] as const;
export type TokenRole = (typeof TOKEN_ROLES)[number];

/** A `read` token may only look; an `admin` token may change things too. */
export const mayChange = (role: TokenRole): boolean => role === 'admin';
