/**
 * Separate "hosts" on one Linux machine for multi-host tests: network namespaces the test creates itself,
 * joined by a Linux bridge in the root namespace on a private /24 (10.231.<n>.0/24). The bridge holds
 * .1 (where the deployment listens); the hosts get .2, .3, …, with `lo` up and no default route, so from a
 * host only its own loopback and the test's subnet can be reached — nothing else on the machine's network.
 *
 * Every name carries the prefix `hxt<pid>` of the creating process, so a crashed earlier run's leftovers are
 * recognised (their pid is gone) and removed before a new run; `teardown` kills what runs inside the
 * namespaces and deletes namespaces, veths and bridge, and is safe to call twice.
 */
import { type ChildProcess, spawn, type SpawnOptions, spawnSync } from 'node:child_process';

const PREFIX = 'hxt';
/** Linux interface names are at most 15 bytes: `hxt<pid up to 7 digits>-br` fits. */
const MAX_IFNAME = 15;

export interface NetnsHost {
  /** The namespace's name (`ip netns exec <name>`). */
  readonly name: string;
  /** The host's address on the test subnet. */
  readonly address: string;
  /** The root namespace's end of this host's veth pair; setting it down cuts the host off. */
  readonly link: string;
  /**
   * Spawns `command` inside the namespace, as the leader of its own process group (`ip netns exec` execs
   * the command, so the child's pid is the command's own), so `killHost` ends it and everything it started.
   */
  spawn(command: string, args: string[], options?: SpawnOptions): ChildProcess;
  /** SIGKILLs every process inside the namespace (what `ip netns pids` lists) and waits until they are gone. */
  killAll(): Promise<void>;
  /** Cuts the host's link (its veth in the root namespace goes down): processes live on, unreachable. */
  cutLink(): void;
  restoreLink(): void;
}

export interface TestNetwork {
  readonly bridge: string;
  /** The root namespace's address on the test subnet: servers the hosts must reach listen here. */
  readonly hostAddress: string;
  readonly subnet: string;
  readonly hosts: NetnsHost[];
  /** Kills processes inside the namespaces and removes namespaces, veths and bridge. Never throws. */
  teardown(): void;
}

function ip(args: string[], what: string): string {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.error) throw new Error(`${what}: cannot run \`ip\` (${r.error.message}); the multi-host test needs iproute2 (Debian: apt-get install iproute2)`);
  if (r.status !== 0) throw new Error(`${what}: \`ip ${args.join(' ')}\` failed (exit ${r.status}): ${r.stderr.trim()}`);
  return r.stdout;
}

/** Runs `ip` and ignores failure: for teardown, where the thing may already be gone. */
function ipQuiet(args: string[]): void {
  spawnSync('ip', args, { stdio: 'ignore' });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function pidsIn(namespace: string): number[] {
  const r = spawnSync('ip', ['netns', 'pids', namespace], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.split(/\s+/).filter(Boolean).map(Number) : [];
}

function killPids(pids: number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
}

function namespaces(): string[] {
  const r = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.split('\n').map((l) => l.split(' ')[0]).filter(Boolean) : [];
}

function links(): string[] {
  const r = spawnSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' });
  // "12: hxt123-a@if11: <…>": the name is before the colon, without the @peer suffix.
  return r.status === 0 ? r.stdout.split('\n').map((l) => l.split(': ')[1]?.split('@')[0]).filter((n): n is string => !!n) : [];
}

const ownerPid = (name: string): number | undefined => {
  const m = new RegExp(`^${PREFIX}(\\d+)-`).exec(name);
  return m ? Number(m[1]) : undefined;
};

/**
 * Removes namespaces and links a crashed earlier test run left behind: those named with our prefix whose
 * creating process no longer exists. Another live run's are left alone.
 */
export function removeStale(): string[] {
  const removed: string[] = [];
  for (const ns of namespaces()) {
    const pid = ownerPid(ns);
    if (pid === undefined || pid === process.pid || alive(pid)) continue;
    killPids(pidsIn(ns));
    ipQuiet(['netns', 'del', ns]);
    removed.push(`netns ${ns}`);
  }
  for (const link of links()) {
    const pid = ownerPid(link);
    if (pid === undefined || pid === process.pid || alive(pid)) continue;
    ipQuiet(['link', 'del', link]);
    removed.push(`link ${link}`);
  }
  return removed;
}

/** Subnets 10.231.<n>.0/24 already in use on this machine (another test run, or anything else). */
function usedThirdOctets(): Set<number> {
  const out = spawnSync('ip', ['-4', '-o', 'addr', 'show'], { encoding: 'utf8' }).stdout ?? '';
  return new Set([...out.matchAll(/inet 10\.231\.(\d+)\./g)].map((m) => Number(m[1])));
}

/**
 * Creates `count` hosts (namespaces `hxt<pid>-a`, `-b`, …) on a fresh bridge. Throws a clear error when the
 * machine cannot (not root / no CAP_NET_ADMIN, no iproute2): the multi-host test must fail then, not skip.
 * On a failure half-way, whatever was created is removed before the error is thrown.
 */
export function createTestNetwork(count: number): TestNetwork {
  if (process.platform !== 'linux') throw new Error(`the multi-host test needs Linux network namespaces; this is ${process.platform}`);
  const tag = `${PREFIX}${process.pid}`;
  const bridge = `${tag}-br`;
  if (bridge.length > MAX_IFNAME) throw new Error(`interface name ${bridge} is longer than ${MAX_IFNAME} bytes`);
  removeStale();
  const used = usedThirdOctets();
  let octet = (process.pid % 250) + 1;
  for (let i = 0; used.has(octet) && i < 250; i++) octet = (octet % 250) + 1;
  if (used.has(octet)) throw new Error('no free subnet 10.231.<n>.0/24 for the multi-host test (all 250 in use)');
  const subnet = `10.231.${octet}.0/24`;
  const hostAddress = `10.231.${octet}.1`;
  const created: { namespaces: string[]; links: string[] } = { namespaces: [], links: [] };

  const teardown = () => {
    for (const ns of created.namespaces) {
      killPids(pidsIn(ns));
      ipQuiet(['netns', 'del', ns]);
    }
    // Deleting one end of a veth pair deletes both; the bridge goes last.
    for (const link of [...created.links].reverse()) ipQuiet(['link', 'del', link]);
    created.namespaces = [];
    created.links = [];
  };

  try {
    try {
      ip(['link', 'add', bridge, 'type', 'bridge'], 'creating the test bridge');
    } catch (e) {
      const root = typeof process.getuid === 'function' && process.getuid() === 0;
      throw new Error(
        `The multi-host test creates network namespaces and a bridge, which needs root or CAP_NET_ADMIN` +
          `${root ? '' : ' (this process is not root)'}; it cannot run here. ${(e as Error).message}`,
      );
    }
    created.links.push(bridge);
    ip(['addr', 'add', `${hostAddress}/24`, 'dev', bridge], 'addressing the bridge');
    ip(['link', 'set', bridge, 'up'], 'bringing the bridge up');

    const hosts: NetnsHost[] = [];
    for (let i = 0; i < count; i++) {
      const letter = String.fromCharCode(97 + i);
      const name = `${tag}-${letter}`;
      const link = `${tag}-${letter}`;
      const address = `10.231.${octet}.${i + 2}`;
      ip(['netns', 'add', name], `creating network namespace ${name}`);
      created.namespaces.push(name);
      // The peer is created directly inside the namespace, as eth0.
      ip(['link', 'add', link, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', name], `creating the veth pair of ${name}`);
      created.links.push(link);
      ip(['link', 'set', link, 'master', bridge], `attaching ${link} to the bridge`);
      ip(['link', 'set', link, 'up'], `bringing ${link} up`);
      ip(['-n', name, 'link', 'set', 'lo', 'up'], `bringing lo up in ${name}`);
      ip(['-n', name, 'addr', 'add', `${address}/24`, 'dev', 'eth0'], `addressing eth0 in ${name}`);
      ip(['-n', name, 'link', 'set', 'eth0', 'up'], `bringing eth0 up in ${name}`);
      hosts.push({
        name,
        address,
        link,
        spawn: (command, args, options = {}) => spawn('ip', ['netns', 'exec', name, command, ...args], { ...options, detached: true }),
        killAll: async () => {
          for (let tries = 0; tries < 50; tries++) {
            const pids = pidsIn(name);
            if (pids.length === 0) return;
            killPids(pids);
            await new Promise((r) => setTimeout(r, 100));
          }
          throw new Error(`processes in ${name} survived SIGKILL: ${pidsIn(name).join(' ')}`);
        },
        cutLink: () => void ip(['link', 'set', link, 'down'], `cutting the link of ${name}`),
        restoreLink: () => void ip(['link', 'set', link, 'up'], `restoring the link of ${name}`),
      });
    }
    return { bridge, hostAddress, subnet, hosts, teardown };
  } catch (e) {
    teardown();
    throw e;
  }
}

/** The namespaces and links with this process's prefix that still exist (for tests of the teardown). */
export function leftovers(pid = process.pid): string[] {
  const tag = `${PREFIX}${pid}-`;
  return [...namespaces().filter((n) => n.startsWith(tag)).map((n) => `netns ${n}`), ...links().filter((l) => l.startsWith(tag)).map((l) => `link ${l}`)];
}
