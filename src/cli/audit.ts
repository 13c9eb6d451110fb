import type { Command } from 'commander';
import type { AuditPolicy } from '../audit/index.js';
import { DEFAULT_POLICY } from './choices.js';
import { jsonTextSafe, terminalSafe, usage } from './output.js';
import { progressBar } from './progress.js';

/** Exit codes of `femtoguard audit` beyond 0 (clean), 1 (failure) and 2 (usage). */
export const AUDIT_EXIT = { inputProblems: 3, failOn: 4 } as const;

interface AuditFlags {
  inventory?: string;
  certs?: string[];
  sessions?: string;
  now?: string;
  out?: string;
  failOn?: string;
  json?: boolean;
  maxLifetimeDays: string;
  expiringDays: string;
  maxAgeDays: string;
  idleDays: string;
  caExpiringDays: string;
  sessionOpenHours: string;
}

function positive(flag: string, text: string): number {
  const n = Number(text);
  if (!/^\d+(\.\d+)?$/.test(text.trim()) || !(n > 0)) throw usage(`--${flag} must be a positive number, got ${JSON.stringify(text)}`);
  return n;
}

export function registerAudit(program: Command): void {
  program
    .command('audit')
    .description(
      'audit an existing fleet from its inventory and certificate dump (and session history): shared, long-lived, weak and orphaned ' +
        'credentials, lost units with live certificates, idle or moved units. Exit 4 when --fail-on is reached, 3 when inputs had problems',
    )
    .option('--inventory <file>', 'fleet inventory, registry CSV (FORMATS.md §2)')
    .option('--certs <paths...>', 'certificate files or directories: PEM (bundles and chains split) or DER; directories are walked')
    .option('--sessions <file>', 'session/report history, NDJSON events (FORMATS.md §1)')
    .option('--now <time>', 'audit time, RFC 3339 with an offset (default: the clock)')
    .option('--out <file>', 'write the report; the extension picks the format: .json, .html or .md')
    .option('--fail-on <severity>', 'exit 4 when a finding is at least low|medium|high|critical')
    .option('--json', 'print the JSON report on stdout instead of the summary')
    .option('--max-lifetime-days <n>', 'longest device certificate lifetime allowed', String(DEFAULT_POLICY.maxLifetimeDays))
    .option('--expiring-days <n>', 'device certificates expiring within this are "expiring soon"', String(DEFAULT_POLICY.expiringDays))
    .option('--max-age-days <n>', 'flag valid certificates issued longer ago than this', String(DEFAULT_POLICY.maxAgeDays))
    .option('--idle-days <n>', 'active devices unseen for longer than this are idle', String(DEFAULT_POLICY.idleDays))
    .option('--ca-expiring-days <n>', 'flag CA certificates expiring within this', String(DEFAULT_POLICY.caExpiringDays))
    .option('--session-open-hours <n>', 'an "up" without its "down" counts as open this long', String(DEFAULT_POLICY.sessionOpenHours))
    .action(async (o: AuditFlags) => {
      if (o.inventory === undefined) throw usage('--inventory FILE is required');
      const { isSeverity, parseEventTime, reaches, renderJson, renderSummary, reportFormatOf, runAudit, writeReport } = await import('../audit/index.js');
      if (o.failOn !== undefined && !isSeverity(o.failOn)) throw usage(`--fail-on must be low, medium, high or critical, got ${JSON.stringify(o.failOn)}`);
      if (o.out !== undefined) reportFormatOf(o.out); // refuse a bad extension before the work, not after
      let now = new Date();
      if (o.now !== undefined) {
        const t = parseEventTime(o.now);
        if (t === null) throw usage(`--now must be an RFC 3339 time with an offset, e.g. 2025-08-05T00:00:00Z; got ${JSON.stringify(o.now)}`);
        now = new Date(t);
      }
      const policy: AuditPolicy = {
        maxLifetimeDays: positive('max-lifetime-days', o.maxLifetimeDays),
        expiringDays: positive('expiring-days', o.expiringDays),
        maxAgeDays: positive('max-age-days', o.maxAgeDays),
        idleDays: positive('idle-days', o.idleDays),
        caExpiringDays: positive('ca-expiring-days', o.caExpiringDays),
        sessionOpenHours: positive('session-open-hours', o.sessionOpenHours),
      };
      const report = await runAudit({
        inventory: o.inventory,
        certs: o.certs ?? [],
        ...(o.sessions !== undefined ? { sessions: o.sessions } : {}),
        now,
        policy,
        progress: (_phase, total, unit) => progressBar(total, unit),
      });
      if (o.out !== undefined) writeReport(report, o.out);
      // The report quotes inventory rows and certificate subjects: nothing in them may drive the terminal.
      process.stdout.write(o.json ? jsonTextSafe(renderJson(report)) : terminalSafe(renderSummary(report, o.out !== undefined ? { out: o.out } : {})));
      if (o.failOn !== undefined && isSeverity(o.failOn) && reaches(report, o.failOn)) {
        process.stderr.write(`audit: findings reach --fail-on ${o.failOn}\n`);
        process.exitCode = AUDIT_EXIT.failOn;
      } else if (report.problems.length > 0) {
        process.exitCode = AUDIT_EXIT.inputProblems;
      }
    });
}
