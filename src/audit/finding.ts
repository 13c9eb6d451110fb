/**
 * Building findings: each check describes itself once ({@link CheckInfo}: stable id, why it
 * matters, how to fix it) and emits findings through {@link makeFinding}, which sorts and
 * de-duplicates the device and certificate lists so reports are stable run to run.
 */
import { severityRank, type Finding, type Severity } from './types.js';

export interface CheckInfo {
  id: string;
  /** One line for docs and `--help`. */
  summary: string;
  /** Severities it can emit, most severe first. */
  severities: readonly Severity[];
  /** Runs only with a session history. */
  needsSessions: boolean;
  why: string;
  fix: string;
}

const byText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

function sortedUnique(items: Iterable<string>): string[] {
  return [...new Set(items)].sort(byText);
}

export function makeFinding(
  check: CheckInfo,
  severity: Severity,
  title: string,
  devices: Iterable<string>,
  certificates: Iterable<string>,
  extra: { subject?: string; deviceNotes?: Map<string, string>; evidence?: Record<string, unknown> } = {},
): Finding {
  const f: Finding = {
    id: check.id,
    key: extra.subject === undefined ? `${check.id}:${severity}` : `${check.id}:${extra.subject}`,
    severity,
    title,
    devices: sortedUnique(devices),
    certificates: sortedUnique(certificates),
    why: check.why,
    fix: check.fix,
  };
  if (extra.deviceNotes !== undefined && extra.deviceNotes.size > 0) {
    f.deviceNotes = Object.fromEntries([...extra.deviceNotes].sort((a, b) => byText(a[0], b[0])));
  }
  if (extra.evidence !== undefined) f.evidence = extra.evidence;
  return f;
}

/** Most severe first, then by check id, then by key. */
export function compareFindings(a: Finding, b: Finding): number {
  return severityRank(b.severity) - severityRank(a.severity) || byText(a.id, b.id) || byText(a.key, b.key);
}

/**
 * Groups items by severity and emits one finding per severity: how checks that flag many
 * certificates at once (a whole fleet on ten-year certificates) stay one readable finding.
 */
export class SeverityBuckets {
  private readonly buckets = new Map<Severity, { devices: Set<string>; certs: Set<string>; notes: Map<string, string>; count: number }>();

  add(severity: Severity, devices: Iterable<string>, certs: Iterable<string>, note?: { serials: Iterable<string>; text: string }): void {
    let b = this.buckets.get(severity);
    if (b === undefined) {
      b = { devices: new Set(), certs: new Set(), notes: new Map(), count: 0 };
      this.buckets.set(severity, b);
    }
    b.count += 1;
    for (const d of devices) b.devices.add(d);
    for (const c of certs) b.certs.add(c);
    if (note !== undefined) for (const s of note.serials) if (!b.notes.has(s)) b.notes.set(s, note.text);
  }

  findings(check: CheckInfo, title: (severity: Severity, count: number, devices: number) => string, evidence?: (severity: Severity) => Record<string, unknown>): Finding[] {
    return [...this.buckets].map(([severity, b]) =>
      makeFinding(check, severity, title(severity, b.count, b.devices.size), b.devices, b.certs, {
        deviceNotes: b.notes,
        ...(evidence !== undefined ? { evidence: evidence(severity) } : {}),
      }),
    );
  }
}

/** "1 certificate", "2 certificates". */
export function plural(n: number, word: string, many = `${word}s`): string {
  return `${n} ${n === 1 ? word : many}`;
}

/** The first 12 hex digits of a fingerprint: enough to tell certificates apart in titles. */
export function shortFp(fp: string): string {
  return fp.slice(0, 12);
}
