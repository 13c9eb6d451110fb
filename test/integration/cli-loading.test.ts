/**
 * The CLI loads what the command being run uses, not the whole application: every command is
 * registered on every run (src/cli/choices.ts says why that must stay light), so a heavy static
 * import in any command file would make `femtoguard detect` (timed end to end by its benchmark)
 * pay for the server, the stores and fastify before it starts. Checked on the list of modules
 * a run loads, taken by a module loader hook, never on timing.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, run } from '../helpers/run.js';

const SAMPLE = join(ROOT, '..', 'shared', 'samples', 'kt-small');
const work = mkdtempSync(join(tmpdir(), 'fg-cli-loading-'));

/** Appends the URL of every module the ESM loader loads to the file named by FG_MODULE_LIST. */
const HOOKS = `import { appendFileSync } from 'node:fs';
export async function load(url, context, next) {
  appendFileSync(process.env.FG_MODULE_LIST, url + '\\n');
  return next(url, context);
}`;
const REGISTER = `import { register } from 'node:module'; register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(HOOKS)}`)});`;

let runs = 0;
/** Runs the CLI from source (as test/helpers/run.ts's `cli` does) and returns the source modules it loaded. */
async function loaded(args: readonly string[]): Promise<{ status: number | null; stderr: string; modules: string[] }> {
  const list = join(work, `modules-${++runs}.txt`);
  writeFileSync(list, '');
  const r = await run(
    process.execPath,
    ['--import', 'tsx', '--import', `data:text/javascript,${encodeURIComponent(REGISTER)}`, `${ROOT}test/helpers/cli-entry.ts`, ...args],
    { cwd: ROOT, env: { ...process.env, FG_MODULE_LIST: list } },
  );
  const urls = readFileSync(list, 'utf8').split('\n').filter(Boolean);
  const modules = urls.flatMap((u) => {
    const i = u.indexOf('/src/');
    const n = u.indexOf('/node_modules/');
    if (n >= 0) return [u.slice(n + 1)];
    return i >= 0 ? [u.slice(i + 1)] : [];
  });
  return { status: r.status, stderr: r.stderr, modules };
}

/** What only the server, the stores and the other commands need. */
const HEAVY = [/^src\/app\//, /^src\/api\/index\.ts$/, /^src\/adapters\//, /^src\/config\//, /^src\/est\//, /^src\/admission\//, /^src\/subscribers\//, /^src\/segw\//, /^src\/sim\/index\.ts$/, /^src\/audit\/index\.ts$/, /^src\/pki\/index\.ts$/, /node_modules\/(fastify|better-sqlite3)\//];
const heavyIn = (modules: string[]): string[] => modules.filter((m) => HEAVY.some((h) => h.test(m)));

describe('femtoguard loads what the command uses', () => {
  it('ok/--help registers every command without loading the application or zod', async () => {
    const r = await loaded(['--help']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.modules).toContain('src/cli/index.ts'); // the hook saw the run
    expect(r.modules).toContain('src/cli/detect.ts');
    expect(heavyIn(r.modules)).toEqual([]);
    expect(r.modules.filter((m) => m.startsWith('src/detection/') || m.includes('node_modules/zod/'))).toEqual([]);
  });

  it('ok/detect loads the detection engine and none of the application', async () => {
    const events = join(work, 'events.ndjson');
    writeFileSync(events, readFileSync(join(SAMPLE, 'events.ndjson'), 'utf8').split('\n').slice(0, 200).join('\n') + '\n');
    const r = await loaded(['detect', '--registry', join(SAMPLE, 'registry.csv'), '--events', events, '--alerts', join(work, 'alerts.ndjson')]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/events: 200 lines/);
    expect(r.modules).toContain('src/detection/index.ts');
    expect(heavyIn(r.modules)).toEqual([]);
  });
});
