/** `jls --libxo json jid name`: each jail's name and JID (the JID tells meshvpc's jail from a later one of the same name). */
export const jlsIdsCommand = (): string[] => ['jls', '--libxo', 'json', 'jid', 'name'];

interface JlsJson {
  readonly 'jail-information'?: { readonly jail?: readonly { readonly jid?: unknown; readonly name?: unknown }[] };
}

export function parseJlsIds(json: string): { name: string; jid: string }[] {
  const doc = JSON.parse(json) as JlsJson;
  return (doc['jail-information']?.jail ?? []).flatMap((j) =>
    typeof j.name === 'string' && (typeof j.jid === 'number' || typeof j.jid === 'string') ? [{ name: j.name, jid: String(j.jid) }] : [],
  );
}
