/** The first-contact password: $MESHVPC_PASSWORD, else a prompt without echo on a terminal. */
import { createInterface } from 'node:readline';

export async function readPassword(prompt: string): Promise<string | null> {
  const env = process.env.MESHVPC_PASSWORD;
  if (env !== undefined) return env;
  if (!process.stdin.isTTY) return null;
  process.stderr.write(prompt);
  const rl = createInterface({ input: process.stdin, terminal: true });
  // Swallow the echo: readline writes typed characters through _writeToOutput.
  (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = () => undefined;
  const line = await new Promise<string>((resolve) => rl.question('', resolve));
  rl.close();
  process.stderr.write('\n');
  return line;
}
