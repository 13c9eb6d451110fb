/**
 * The files the CLI writes with full subscriber identifiers (`detect --alerts`, `impact --out`,
 * `--payments`, `--notification`, `--summary`) are readable by their owner only (0600), also
 * when the file already existed with a wider mode; driven as an outside script would, on the
 * kt-small sample. A file whose mode the caller cannot change is refused and left as it was.
 */
import { chmodSync, mkdtempSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { cli, ROOT, run } from '../helpers/run.js';
import { expected, SAMPLE } from '../helpers/subscribers-sample.js';

const work = mkdtempSync(join(tmpdir(), 'fg-file-modes-'));
const REGISTRY = join(SAMPLE, 'registry.csv');
const EVENTS = join(SAMPLE, 'events.ndjson');
const ROGUE_CELLS = expected.rogues.find((r) => r.name === 'kt-rogue')?.cellIds ?? [];
const modeOf = (p: string): number => statSync(p).mode & 0o777;
/** A file that exists before the command, with a mode anyone may read. */
function preexisting(name: string, mode: number): string {
  const p = join(work, name);
  writeFileSync(p, 'stale\n');
  chmodSync(p, mode);
  return p;
}

describe('femtoguard detect --alerts', () => {
  let fresh: string;
  let existing: string;
  beforeAll(async () => {
    fresh = join(work, 'alerts-new.ndjson');
    existing = preexisting('alerts-old.ndjson', 0o644);
    for (const out of [fresh, existing]) {
      const r = await cli(['detect', '--registry', REGISTRY, '--events', EVENTS, '--alerts', out], process.env);
      expect(r.status, r.stderr).toBe(0);
    }
  });

  it('ok/a new alerts file is 0600 and holds the alert contract with full identifiers', () => {
    expect(modeOf(fresh)).toBe(0o600);
    const lines = readFileSync(fresh, 'utf8').trim().split('\n');
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.some((l) => /"msisdn":"\+8210\d{8}"/.test(l))).toBe(true);
  });

  it('fail/an existing 0644 alerts file becomes 0600, its old content replaced', () => {
    expect(modeOf(existing)).toBe(0o600);
    expect(readFileSync(existing, 'utf8')).toBe(readFileSync(fresh, 'utf8'));
  });
});

describe('femtoguard impact exports', () => {
  it('fail/existing 0644/0666 export files become 0600; new ones are created 0600', async () => {
    const out = preexisting('subs.csv', 0o644);
    const pay = join(work, 'pay.csv');
    const notif = preexisting('notify.json', 0o666);
    const summary = preexisting('summary.json', 0o644);
    const r = await cli(['impact', '--events', EVENTS, '--cells', ROGUE_CELLS.join(','), '--out', out, '--payments', pay, '--notification', notif, '--summary', summary], process.env);
    expect(r.status, r.stderr).toBe(0);
    for (const p of [out, pay, notif, summary]) expect(modeOf(p), p).toBe(0o600);
    expect(readFileSync(out, 'utf8')).toMatch(/^imsi,imei,msisdn,.*\n450\d{12},/);
    expect(readFileSync(out, 'utf8')).not.toContain('stale');
  });
});

describe('a symbolic link given as the output', () => {
  it('fail/a link to a file is refused, naming it, and the file it points to is left as it was', async () => {
    const target = preexisting('elsewhere.txt', 0o644);
    const link = join(work, 'link.ndjson');
    symlinkSync(target, link);
    const r = await cli(['detect', '--registry', REGISTRY, '--events', EVENTS, '--alerts', link], process.env);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('symbolic link');
    expect(readFileSync(target, 'utf8')).toBe('stale\n');
    expect(modeOf(target)).toBe(0o644);
  });
});

// As root, the other-user case runs the CLI as `nobody` (setpriv, util-linux) on a root-owned file.
describe.skipIf(process.getuid?.() !== 0)('a file the caller cannot make private', () => {
  const asNobody = (args: readonly string[]): ReturnType<typeof run> =>
    run('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '--import', 'tsx', `${ROOT}test/helpers/cli-entry.ts`, ...args], { cwd: ROOT });

  it("fail/another user's world-writable file is refused by detect and impact, naming it, and left as it was", async () => {
    chmodSync(work, 0o777);
    const alerts = preexisting('root-alerts.ndjson', 0o666);
    const out = preexisting('root-subs.csv', 0o666);
    const d = await asNobody(['detect', '--registry', REGISTRY, '--events', EVENTS, '--alerts', alerts]);
    expect(d.status, d.stderr).not.toBe(0);
    expect(d.stderr).toContain(`cannot write alerts ${alerts}: it belongs to another user`);
    const i = await asNobody(['impact', '--events', EVENTS, '--cells', ROGUE_CELLS.join(','), '--out', out]);
    expect(i.status, i.stderr).not.toBe(0);
    expect(i.stderr).toContain(`cannot write subscribers export (--out) ${out}: cannot make it readable by its owner only (0600): EPERM`);
    for (const p of [alerts, out]) {
      expect(modeOf(p)).toBe(0o666);
      expect(readFileSync(p, 'utf8')).toBe('stale\n');
    }
  });
});
