export const VERSION = '0.7.0';

/** A version as another meshvpc states it (hello, a node value in the store), or null when it is not one. */
export const versionText = (x: unknown): string | null => (typeof x === 'string' && /^[0-9][0-9A-Za-z.+-]{0,30}$/.test(x) ? x : null);
