/**
 * Two strongSwan daemons in network namespaces for the SeGW integration test (root only):
 *
 *   host (femtoguard) 198.18.210.1 ── veth ── 198.18.210.2 [SEGW ns] 198.18.10.1 ── veth ── 198.18.10.2 [FEMTO ns]
 *
 * Addresses are from 198.18.0.0/15 (RFC 2544 benchmarking range; 192.0.2.0/24 is this
 * machine's own network). Each charon gets its own `/run` (its pid file is fixed at
 * /var/run/charon.pid) by a bind mount inside the private mount namespace `ip netns exec`
 * creates, so the mount dies with the process. Config comes from STRONGSWAN_CONF and
 * SWANCTL_DIR; each VICI socket has its own path. Everything is torn down by `destroy()`,
 * which is safe to call after a partial setup.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run, type RunResult } from './run.js';

export const CHARON = '/usr/lib/ipsec/charon';
export const NET = { hostIp: '198.18.210.1', segwUplinkIp: '198.18.210.2', segwIp: '198.18.10.1', femtoIp: '198.18.10.2' } as const;

/** The plugins a certificate-authenticated IKEv2 SA with OCSP needs, and nothing else (kdf: PRF+ with OpenSSL 3). */
export const CHARON_PLUGINS = 'random nonce openssl kdf pem pkcs1 pkcs8 x509 revocation constraints pubkey curl kernel-netlink socket-default vici';

export interface Charon {
  name: 'segw' | 'femto';
  ns: string;
  dir: string;
  vici: string;
  uri: string;
  log: string;
  child: ChildProcess | null;
}

export interface SegwLab {
  root: string;
  segw: Charon;
  femto: Charon;
  /** `swanctl` against one instance (credentials and connections from its SWANCTL_DIR) */
  swanctl(c: Charon, args: string[], timeoutMs?: number): Promise<RunResult>;
  /** starts charon in its namespace with this strongswan.conf text */
  startCharon(c: Charon, strongswanConf: string): Promise<void>;
  /** charon's log and stdout, for failure messages */
  logs(): string;
  destroy(): Promise<void>;
}

const must = async (cmd: string, args: string[]): Promise<void> => {
  const r = await run(cmd, args, { timeoutMs: 15_000 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
};

/**
 * strongswan.conf for a lab instance: `base` (a file path, e.g. the shipped
 * deploy/strongswan/strongswan.conf) included verbatim, then only the log file moved into the
 * instance's directory (later settings override earlier ones in strongswan.conf).
 */
export function labStrongswanConf(c: Charon, base: string): string {
  return `include ${base}
charon {
  filelog {
    charon {
      path = ${c.log}
    }
  }
}
`;
}

/** A self-contained strongswan.conf (the femtocell stand-in). */
export function plainStrongswanConf(c: Charon): string {
  return `charon {
  load = ${CHARON_PLUGINS}
  filelog {
    charon {
      path = ${c.log}
      time_format = %T
      flush_line = yes
      default = 1
      cfg = 2
    }
  }
}
`;
}

const waitFor = async (cond: () => boolean, what: string, ms: number): Promise<void> => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
};

/** Builds the namespaces and links; charons are started with `startCharon` once configured. */
export async function createSegwLab(): Promise<SegwLab> {
  const id = (process.pid % 100_000).toString(36);
  const nsSegw = `fgsw-segw-${id}`;
  const nsFemto = `fgsw-femto-${id}`;
  // Interface names: at most 15 characters.
  const ifSegw = `fgs${id}a`;
  const ifFemto = `fgs${id}b`;
  const ifHost = `fgs${id}h`;
  const ifUplink = `fgs${id}u`;
  const root = mkdtempSync(join(tmpdir(), 'fg-segw-'));
  const mk = (name: 'segw' | 'femto', ns: string): Charon => {
    const dir = join(root, name);
    for (const d of ['run', 'x509', 'x509ca', 'private', 'conf.d']) mkdirSync(join(dir, d), { recursive: true });
    // charon's default socket /var/run/charon.vici lands in the instance's own /run.
    const vici = join(dir, 'run', 'charon.vici');
    return { name, ns, dir, vici, uri: `unix://${vici}`, log: join(dir, 'charon.log'), child: null };
  };
  const segw = mk('segw', nsSegw);
  const femto = mk('femto', nsFemto);
  const created: string[] = [];
  let hostLink = false;

  const lab: SegwLab = {
    root,
    segw,
    femto,
    swanctl: (c, args, timeoutMs = 20_000) => run('swanctl', [...args, '--uri', c.uri], { env: { ...process.env, SWANCTL_DIR: c.dir }, timeoutMs }),
    async startCharon(c, text) {
      const conf = join(c.dir, 'strongswan.conf');
      writeFileSync(conf, text);
      const out = join(c.dir, 'stdout.log');
      // `ip netns exec` execs (same pid), and so does `sh -c 'exec'`: the child is charon itself.
      const child = spawn('ip', ['netns', 'exec', c.ns, 'sh', '-c', `mount --bind "${join(c.dir, 'run')}" /run && exec ${CHARON}`], {
        env: { ...process.env, STRONGSWAN_CONF: conf },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const chunks: Buffer[] = [];
      child.stdout?.on('data', (b: Buffer) => chunks.push(b));
      child.stderr?.on('data', (b: Buffer) => chunks.push(b));
      child.on('exit', () => writeFileSync(out, Buffer.concat(chunks)));
      c.child = child;
      let exited = false;
      child.once('exit', () => (exited = true));
      await waitFor(() => existsSync(c.vici) || exited, `${c.name} VICI socket ${c.vici}`, 10_000);
      if (exited) throw new Error(`charon in ${c.ns} exited at start: ${Buffer.concat(chunks).toString()}`);
      // The socket file appears before charon answers: wait for a real VICI answer.
      for (let i = 0; ; i++) {
        const r = await run('swanctl', ['--stats', '--uri', c.uri], { timeoutMs: 5_000 });
        if (r.status === 0) break;
        if (i > 50) throw new Error(`charon in ${c.ns} does not answer on VICI: ${r.stderr}`);
        await new Promise((res) => setTimeout(res, 100));
      }
    },
    logs() {
      const read = (p: string): string => (existsSync(p) ? readFileSync(p, 'utf8') : '(none)');
      return [segw, femto].map((c) => `--- ${c.name} charon.log ---\n${read(c.log).split('\n').slice(-120).join('\n')}\n--- ${c.name} stdout ---\n${read(join(c.dir, 'stdout.log'))}`).join('\n');
    },
    async destroy() {
      for (const c of [segw, femto]) {
        const child = c.child;
        if (!child || child.exitCode !== null || child.signalCode !== null) continue;
        const gone = new Promise<void>((r) => child.once('exit', () => r()));
        child.kill('SIGTERM');
        const hard = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await gone;
        clearTimeout(hard);
      }
      for (const ns of created.reverse()) await run('ip', ['netns', 'delete', ns]).catch(() => undefined);
      if (hostLink) await run('ip', ['link', 'delete', ifHost]).catch(() => undefined);
      rmSync(root, { recursive: true, force: true });
    },
  };

  try {
    // Leftovers of a crashed run with this pid's names would make `add` fail.
    for (const ns of [nsSegw, nsFemto]) await run('ip', ['netns', 'delete', ns]);
    await run('ip', ['link', 'delete', ifHost]);
    for (const ns of [nsSegw, nsFemto]) {
      await must('ip', ['netns', 'add', ns]);
      created.push(ns);
      await must('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    }
    await must('ip', ['link', 'add', ifSegw, 'type', 'veth', 'peer', 'name', ifFemto]);
    await must('ip', ['link', 'set', ifSegw, 'netns', nsSegw]);
    await must('ip', ['link', 'set', ifFemto, 'netns', nsFemto]);
    await must('ip', ['-n', nsSegw, 'addr', 'add', `${NET.segwIp}/24`, 'dev', ifSegw]);
    await must('ip', ['-n', nsFemto, 'addr', 'add', `${NET.femtoIp}/24`, 'dev', ifFemto]);
    await must('ip', ['-n', nsSegw, 'link', 'set', ifSegw, 'up']);
    await must('ip', ['-n', nsFemto, 'link', 'set', ifFemto, 'up']);
    await must('ip', ['link', 'add', ifHost, 'type', 'veth', 'peer', 'name', ifUplink]);
    hostLink = true;
    await must('ip', ['link', 'set', ifUplink, 'netns', nsSegw]);
    await must('ip', ['addr', 'add', `${NET.hostIp}/24`, 'dev', ifHost]);
    await must('ip', ['link', 'set', ifHost, 'up']);
    await must('ip', ['-n', nsSegw, 'addr', 'add', `${NET.segwUplinkIp}/24`, 'dev', ifUplink]);
    await must('ip', ['-n', nsSegw, 'link', 'set', ifUplink, 'up']);
  } catch (e) {
    await lab.destroy();
    throw e;
  }
  return lab;
}
