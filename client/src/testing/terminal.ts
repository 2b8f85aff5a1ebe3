import { spawn } from 'node:child_process';

/**
 * A command (`node <argv>`) in a real pseudo-terminal (util-linux `script`), as a person at a
 * keyboard runs it: `keys` are typed once `waitFor` has appeared. Returns all the terminal showed,
 * and the exit code.
 */
export function runInTerminal(
  argv: string[],
  env: Record<string, string | undefined>,
  waitFor: string,
  keys: string,
  timeoutMs = 15_000,
): Promise<{ code: number | null; screen: string }> {
  const quote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;
  const command = [process.execPath, ...argv].map(quote).join(' ');
  return new Promise((resolve, reject) => {
    // -e: script exits with the command's code; -q: no banner; the transcript file is not wanted.
    const child = spawn('script', ['-qec', command, '/dev/null'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let screen = '';
    let typed = false;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${argv.join(' ')} in a terminal did not finish; the screen:\n${screen}`));
    }, timeoutMs);
    child.stdout.on('data', (d) => {
      screen += d;
      if (!typed && screen.includes(waitFor)) {
        typed = true;
        child.stdin.write(keys);
      }
    });
    child.stderr.on('data', (d) => {
      screen += d;
    });
    child.once('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, screen });
    });
  });
}
