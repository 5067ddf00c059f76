// Writes the manual page meshvpc(8) to dist/man/meshvpc.8 from the compiled
// catalog and help texts (src/adapters/cli/manpage.ts), so `meshvpc help`
// and `man meshvpc` are made from the same source. scripts/install-deps.sh
// installs it into /usr/local/share/man/man8.
import { mkdirSync, writeFileSync } from 'node:fs';

const { manPage } = await import('../dist/src/adapters/cli/manpage.js');
mkdirSync('dist/man', { recursive: true });
writeFileSync('dist/man/meshvpc.8', manPage());
