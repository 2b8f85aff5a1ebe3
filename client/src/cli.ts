// Only light modules are imported up front: the client (undici, jose, zod) is loaded once a
// command needs it, so that `flexgate --help` and usage errors answer at once.
import { type Command, helpFor, parseCli, UsageError } from './args';
import type { FlexgateClient } from './client';
import {
  EXIT,
  exitCodeFor,
  formatInstant,
  formatLaunch,
  formatProducts,
  formatSummary,
  formatUsage,
  formatWhoAmI,
  progressBar,
} from './format';
import type { PasswordSource } from './password';
import type { runProduct } from './running';
import { FlexgateError, notSignedIn } from './types';

export interface CliIo {
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
  /** Where `signin` without a password asks for it (a terminal) or reads it (its first line). */
  stdin?: PasswordSource;
  /** Registers what Ctrl-C / SIGTERM does while a product runs. */
  onInterrupt?: (handler: () => void) => void;
}

/** Exit status of a process stopped by Ctrl-C, as shells report it (128 + SIGINT). */
const INTERRUPTED = 130;

/**
 * `FLEXGATE_NOW` shifts the client's clock (tests drive a gateway whose clock is set by
 * `POST /v1/test/clock`). It cannot lengthen an entitlement's life: the client never
 * believes a time earlier than one it has already seen.
 */
export function clockFromEnv(env: Record<string, string | undefined>): (() => Date) | undefined {
  const raw = env.FLEXGATE_NOW;
  if (!raw) return undefined;
  const target = Date.parse(raw);
  if (Number.isNaN(target)) throw new UsageError(`FLEXGATE_NOW must be an ISO-8601 instant, not "${raw}"`);
  const offset = target - Date.now();
  return () => new Date(Date.now() + offset);
}

export async function runCli(argv: readonly string[], env: Record<string, string | undefined>, io: CliIo): Promise<number> {
  let command: Command;
  let clock: (() => Date) | undefined;
  try {
    command = parseCli(argv, env);
    // Help needs no clock: a FLEXGATE_NOW it cannot read does not keep it from showing.
    clock = command.name === 'help' ? undefined : clockFromEnv(env);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    return usageError(io, err);
  }
  if (command.name === 'help') {
    io.stdout.write(`${helpFor(command.topic)}\n`);
    return EXIT.ok;
  }

  const json = command.json;
  const print = (human: string, data: unknown) => io.stdout.write(json ? `${JSON.stringify(data, null, 2)}\n` : `${human}\n`);

  if (command.name === 'simulate') {
    const [{ simulate }, { GatewayUnreachableError }] = await Promise.all([import('./simulate'), import('./http')]);
    const summary = await simulate({
      gatewayUrl: command.gateway,
      ...(command.trust !== undefined && { trust: command.trust }),
      users: command.users,
      launches: command.launches,
      concurrency: command.concurrency,
      ...(command.products && { products: command.products }),
      password: command.password,
      prefix: command.prefix,
      ...(command.setup && command.operatorKey && { setup: { operatorKey: command.operatorKey, tokens: command.tokens } }),
      useCache: command.useCache,
      onProgress: progressBar(io.stderr),
    }).catch((err: unknown) => err as Error);
    if (summary instanceof Error) {
      io.stderr.write(`flexgate: simulate failed: ${summary.message}\n`);
      // As every other command: a refusal (an untrusted root, a refused sign-in) is 3, not an unexpected error.
      if (summary instanceof GatewayUnreachableError) return EXIT.unreachable;
      if (summary instanceof FlexgateError) return summary.code === 'gateway-unreachable' ? EXIT.unreachable : EXIT.refused;
      return EXIT.error;
    }
    print(formatSummary(summary), summary);
    return EXIT.ok;
  }

  if (command.name === 'ledger') return ledgerVerify(command, io, print);

  if (command.name === 'signout') {
    // Ending the sign-in needs no trust root, nor the client.
    const [{ createDiskStore }, { signOutEverywhere }] = await Promise.all([import('./cache'), import('./signout')]);
    const ended = await signOutEverywhere(createDiskStore(command.cacheDir));
    const message =
      ended === 'unreachable'
        ? 'Signed out on this machine. The gateway could not be reached to end the sign-in there: a copy of this cache still signs in until its refresh token expires, unless an operator revokes it.'
        : ended === 'ended'
          ? 'Signed out, on the gateway too.'
          : 'Signed out (there was no sign-in here).';
    print(message, { signedOut: true, endedOnGateway: ended === 'ended' });
    return EXIT.ok;
  }

  const [{ createClient }, { TrustError }] = await Promise.all([import('./client'), import('./verify')]);
  let client: FlexgateClient | null = null;
  try {
    const trust = command.trust ?? (await trustOnFirstUse(command, io));
    if (trust === null) {
      // whoami before any sign-in: nothing to verify, nothing to trust.
      const me = { gatewayUrl: command.gateway.replace(/\/+$/, ''), cacheDir: command.cacheDir, signedIn: false };
      const whoami = {
        ...me,
        autodeskId: null,
        signedInAt: null,
        tokenExpiresAt: null,
        entitlements: [],
        provisional: [],
        offlineAllowance: null,
      };
      print(formatWhoAmI(whoami), whoami);
      return EXIT.ok;
    }
    try {
      client = createClient({ gatewayUrl: command.gateway, trust, cacheDir: command.cacheDir, ...(clock && { clock }) });
    } catch (err) {
      if (err instanceof TrustError) return usageError(io, new UsageError(`--trust: ${err.message}`, command.name));
      throw err;
    }
    return await dispatch(command, client, io, print);
  } catch (err) {
    if (!(err instanceof FlexgateError)) throw err;
    if (json) io.stdout.write(`${JSON.stringify({ error: err.code, reason: err.message }, null, 2)}\n`);
    io.stderr.write(`flexgate: ${err.message}\n`);
    return err.code === 'gateway-unreachable' ? EXIT.unreachable : EXIT.refused;
  } finally {
    await client?.close();
  }
}

/**
 * The root key pinned for this gateway; at a sign-in without one, the gateway's own, pinned now
 * and said so. Other commands without a trust root refuse: nothing could be verified (null: a
 * whoami before any sign-in, which has nothing to verify).
 */
async function trustOnFirstUse(command: Exclude<Command, { name: 'help' | 'simulate' | 'signout' | 'ledger' }>, io: CliIo) {
  const { pinnedRoot, pinGatewayRoot } = await import('./pin');
  const pinned = await pinnedRoot(command.cacheDir, command.gateway);
  if (pinned) return pinned;
  if (command.name !== 'signin') {
    const { createDiskStore } = await import('./cache');
    const signin = await createDiskStore(command.cacheDir).read<{ gatewayUrl?: unknown }>('signin.json');
    const signedIn = signin?.gatewayUrl === command.gateway.replace(/\/+$/, '');
    if (!signedIn && command.name === 'whoami') return null;
    throw new FlexgateError(
      'unauthorized',
      signedIn
        ? `No trust root for ${command.gateway}: pass --trust (or set FLEXGATE_TRUST), or sign in again, which pins the gateway's root key.`
        : notSignedIn(command.gateway),
    );
  }
  const { root, thumbprint } = await pinGatewayRoot(command.cacheDir, command.gateway);
  io.stderr.write(
    `Pinned the gateway's root key ${thumbprint} (trust on first use): later answers must be vouched for by it. ` +
      'A product configures it instead: --trust or FLEXGATE_TRUST.\n',
  );
  return root;
}

async function dispatch(
  command: Exclude<Command, { name: 'help' } | { name: 'simulate' } | { name: 'signout' } | { name: 'ledger' }>,
  client: FlexgateClient,
  io: CliIo,
  print: (human: string, data: unknown) => void,
): Promise<number> {
  switch (command.name) {
    case 'signin': {
      const password = command.password ?? (await askPassword(io));
      if (password === INTERRUPTED) return INTERRUPTED;
      if (password === null) {
        return usageError(
          io,
          new UsageError('signin needs a password: --password, FLEXGATE_PASSWORD, typed at the prompt, or piped in', 'signin'),
        );
      }
      const me = await client.signIn(command.user, password);
      print(`Signed in as ${me.autodeskId} (token valid until ${formatInstant(me.expiresAt)}).`, me);
      return EXIT.ok;
    }
    case 'products': {
      const list = command.all ? await client.catalog() : await client.products();
      print(formatProducts(list), list);
      return EXIT.ok;
    }
    case 'usage': {
      const report = await client.usage({
        ...(command.from !== undefined && { from: command.from }),
        ...(command.to !== undefined && { to: command.to }),
      });
      print(formatUsage(report), report);
      return EXIT.ok;
    }
    case 'whoami': {
      const me = await client.whoami();
      print(formatWhoAmI(me), me);
      return EXIT.ok;
    }
    case 'launch': {
      if (!command.yes && !command.json && io.stdin?.isTTY === true) {
        const go = await confirmCharge(command, client, io);
        if (go === INTERRUPTED) return INTERRUPTED;
        if (!go) {
          io.stderr.write('Not launched: nothing was charged.\n');
          return EXIT.refused;
        }
      }
      const result = await client.launch(command.product, {
        ...(command.team !== undefined && { team: command.team }),
        ...(command.machine !== undefined && { machine: command.machine }),
        fresh: command.fresh,
      });
      if (!result.granted) {
        if (command.json) print('', result);
        io.stderr.write(`${formatLaunch(command.product, result)}\n`);
        return exitCodeFor(result);
      }
      print(formatLaunch(command.product, result), result);
      if (!command.run) return EXIT.ok;
      return hold(command, client, io, result);
    }
  }
}

/**
 * On a terminal, a launch that would charge tokens asks first (the gateway's dry run says what it
 * would do). Anything else, or a gateway that cannot be asked, goes ahead: the launch decides.
 */
async function confirmCharge(
  command: Extract<Command, { name: 'launch' }>,
  client: FlexgateClient,
  io: CliIo,
): Promise<boolean | typeof INTERRUPTED> {
  let preview: Awaited<ReturnType<FlexgateClient['preview']>>;
  try {
    preview = await client.preview(command.product, command.team !== undefined ? { team: command.team } : {});
  } catch {
    return true;
  }
  if (!preview.granted || preview.charge === 0 || !io.stdin) return true;
  const { askYesNo, PromptCancelled } = await import('./password');
  try {
    return await askYesNo(
      io.stdin,
      io.stderr,
      `This will use ${preview.charge} tokens of ${preview.teamName ?? preview.team} (${preview.balanceAfter} left). Continue?`,
    );
  } catch (err) {
    if (err instanceof PromptCancelled) return INTERRUPTED;
    throw err;
  }
}

/** The CLI as a simulated product: runs, heartbeats, and closes on a signal or after --hold. */
async function hold(
  command: Extract<Command, { name: 'launch' }>,
  client: FlexgateClient,
  io: CliIo,
  first: Parameters<typeof runProduct>[2],
): Promise<number> {
  const { runProduct } = await import('./running');
  const log = (line: string) => io.stderr.write(`${line}\n`);
  // --idle-after: the simulated user leaves the product alone from then on (R7b).
  const idleFrom = command.idleAfterSec !== undefined ? new Date(client.now().getTime() + command.idleAfterSec * 1000) : null;
  const running = runProduct(client, command.product, first, {
    heartbeatMs: command.heartbeatSec * 1000,
    ...(idleFrom && { idleSince: () => (client.now() >= idleFrom ? idleFrom : null) }),
    ...(command.team !== undefined && { team: command.team }),
    ...(command.machine !== undefined && { machine: command.machine }),
    onEvent(event) {
      if (event.type === 'renewed') {
        log(
          event.nextSession
            ? `Next session opened: ${event.grant.charged} tokens charged, ends ${formatInstant(event.grant.sessionEnd ?? event.grant.expiresAt)}.`
            : `Heartbeat: entitlement renewed until ${formatInstant(event.grant.expiresAt)}.`,
        );
      } else if (event.type === 'offline') log(`Gateway unreachable; running on until ${formatInstant(event.runsUntil)}.`);
      else if (event.type === 'refused') log(`Renewal refused (${event.refusal.code}): ${event.refusal.reason}`);
    },
  });
  io.onInterrupt?.(() => void running.stop());
  const timer = command.holdSec !== undefined ? setTimeout(() => void running.stop(), command.holdSec * 1000) : undefined;
  const outcome = await running.done;
  clearTimeout(timer);
  if (outcome.reason === 'entitlement-expired') {
    log(outcome.message);
    return EXIT.unreachable;
  }
  if (outcome.reason === 'session-refused') {
    log(outcome.message);
    return EXIT.refused;
  }
  if (outcome.ended) {
    log(`Closed: session ${outcome.ended.session} charged ${outcome.ended.charged}, refunded ${outcome.ended.refunded}.`);
  } else if (outcome.othersRunning) {
    const others = outcome.othersRunning === 1 ? 'another copy' : `${outcome.othersRunning} other copies`;
    const keep = outcome.othersRunning === 1 ? 'keeps' : 'keep';
    log(`Closed; ${others} of ${command.product} on this machine ${keep} the session open, and the last to close ends it.`);
  } else if (outcome.notEnded) {
    log(`Closed, but the session could not be ended (${outcome.notEnded}); it runs out on the gateway.`);
  } else log('Closed.');
  return EXIT.ok;
}

/**
 * `flexgate ledger verify`: no sign-in, an admin key. The trust root is --trust, else the one
 * pinned for this gateway, else none (the checkpoint is then checked against the JWKS alone, and
 * the output says so).
 */
async function ledgerVerify(
  command: Extract<Command, { name: 'ledger' }>,
  io: CliIo,
  print: (human: string, data: unknown) => void,
): Promise<number> {
  const [{ verifyLedger, readKept, keepCheckpoint }, { pinnedRoot }, { checkTrust, TrustError }] = await Promise.all([
    import('./ledger'),
    import('./pin'),
    import('./verify'),
  ]);
  // A --trust that is no key at all is the caller's mistake (exit 2), not a ledger that fails (exit 5).
  try {
    if (command.trust !== undefined && command.trust !== null) checkTrust(command.trust);
  } catch (err) {
    if (err instanceof TrustError) return usageError(io, new UsageError(`--trust: ${err.message}`, command.name));
    throw err;
  }
  let verdict: Awaited<ReturnType<typeof verifyLedger>>;
  try {
    const trust = command.trust ?? (await pinnedRoot(command.cacheDir, command.gateway));
    const kept = command.keep !== undefined ? await readKept(command.keep, command.team) : [];
    verdict = await verifyLedger({ gatewayUrl: command.gateway, team: command.team, adminKey: command.adminKey, trust, kept });
  } catch (err) {
    if (!(err instanceof FlexgateError)) throw err;
    if (command.json) print('', { ok: false, error: err.code, reason: err.message });
    io.stderr.write(`flexgate: ${err.message}\n`);
    return err.code === 'gateway-unreachable' ? EXIT.unreachable : EXIT.refused;
  }
  if (!verdict.ok) {
    if (command.json) print('', verdict);
    io.stderr.write(`flexgate: ledger of ${command.team} NOT verified: ${verdict.message}\n`);
    return EXIT.broken;
  }
  const c = verdict.checkpoint;
  if (command.keep !== undefined) await keepCheckpoint(command.keep, verdict.checkpoint, verdict.keep);
  const by =
    verdict.trustedBy === 'root'
      ? `key ${verdict.kid}, vouched for by the trusted root key`
      : `key ${verdict.kid} of the gateway's JWKS (no trust root: pass --trust to check the key too)`;
  print(
    [
      `Ledger of ${c.team} verified: ${c.count} entries chain from the genesis hash to ${c.lastHash} (entry ${c.lastId}),`,
      `adding up to a balance of ${c.balance} tokens, as the checkpoint of ${formatInstant(c.at)} signed by ${by} says.`,
      ...(verdict.later > 0 ? [`${verdict.later} entries written after the checkpoint chain on from it.`] : []),
      ...(command.keep !== undefined
        ? [`The history of ${verdict.keptChecked} checkpoints kept in ${command.keep} is still the ledger's; this one is kept too.`]
        : []),
    ].join('\n'),
    verdict,
  );
  return EXIT.ok;
}

function usageError(io: CliIo, err: UsageError): number {
  io.stderr.write(`flexgate: ${err.message}\n\n${helpFor(err.command)}\n`);
  return EXIT.usage;
}

/** The password typed at a prompt or piped in; null when there is none, INTERRUPTED on Ctrl-C. */
async function askPassword(io: CliIo): Promise<string | null | typeof INTERRUPTED> {
  if (!io.stdin) return null;
  const { readPassword, PromptCancelled } = await import('./password');
  try {
    return await readPassword(io.stdin, io.stderr);
  } catch (err) {
    if (err instanceof PromptCancelled) return INTERRUPTED;
    throw err;
  }
}
