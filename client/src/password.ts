import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';

/** Ctrl-C at the password prompt. */
export class PromptCancelled extends Error {
  override readonly name = 'PromptCancelled';
}

export interface PasswordSource extends NodeJS.ReadableStream {
  isTTY?: boolean;
}

/**
 * The password for `flexgate signin`: asked for on a terminal without echo, else the first
 * line of standard input (so a script can pipe it). Null when none was given: standard input
 * ended first, or the line was empty.
 */
export function readPassword(input: PasswordSource, prompt: NodeJS.WritableStream): Promise<string | null> {
  const tty = input.isTTY === true;
  // On a terminal readline echoes what is typed to its output: it gets one that discards, and
  // the prompt goes to stderr, which stays on screen when stdout is redirected.
  const discard = new Writable({ write: (_chunk, _encoding, done) => done() });
  const rl = createInterface({ input, output: tty ? discard : undefined, terminal: tty, historySize: 0 });
  if (tty) prompt.write('Password: ');
  return new Promise((resolve, reject) => {
    let line: string | null = null;
    let cancelled = false;
    rl.once('line', (text) => {
      line = text;
      rl.close();
    });
    rl.once('SIGINT', () => {
      cancelled = true;
      rl.close();
    });
    rl.once('close', () => {
      if (tty) prompt.write('\n');
      if (cancelled) reject(new PromptCancelled('cancelled at the password prompt'));
      else resolve(line ? line : null);
    });
  });
}

/** A yes/no question on the terminal (`[y/N]`): true only for y or yes. */
export function askYesNo(input: PasswordSource, prompt: NodeJS.WritableStream, question: string): Promise<boolean> {
  const rl = createInterface({ input, terminal: false, historySize: 0 });
  prompt.write(`${question} [y/N] `);
  return new Promise((resolve, reject) => {
    let answer = '';
    let cancelled = false;
    rl.once('line', (text) => {
      answer = text;
      rl.close();
    });
    rl.once('SIGINT', () => {
      cancelled = true;
      rl.close();
    });
    rl.once('close', () => {
      if (cancelled) reject(new PromptCancelled('cancelled at the question'));
      else resolve(/^\s*y(es)?\s*$/i.test(answer));
    });
  });
}
