/**
 * The demo's terminal view, built on the live driver's observer and the server's alert stream:
 * on a terminal a block redrawn four times a second; otherwise (a pipe, a log, CI) plain lines.
 */
import type { DecisionSeen, LiveCounters, LiveObserver, StreamedAlert } from '../sim/index.js';
import { plainObserver } from './simulate-live.js';

export interface DemoView {
  observer: LiveObserver;
  alert(a: StreamedAlert, isNew: boolean): void;
  /** subscribers on flagged cells, as the impact analysis counts them */
  exposed(n: number): void;
  stop(): void;
}

const KST = 9 * 3_600_000;
const SEV_RANK: Record<string, number> = { low: 0, medium: 1, high: 2, critical: 3 };
const color = (tty: boolean, code: string, s: string): string => (tty ? `\x1b[${code}m${s}\x1b[0m` : s);
const clock = (): string => new Date().toISOString().slice(11, 19);

export function createView(opts: { tty: boolean; write: (s: string) => void; title: string; simStart: number }): DemoView {
  const { tty, write } = opts;
  const alertsBy: Record<string, number> = {};
  let alerts = 0;
  let serverHolds = 0;
  let exposed = 0;
  let phase = 'starting';
  let enrolled = '0/0';
  let c: Readonly<LiveCounters> | null = null;
  let sim = 0;
  let span = 1;
  let rate = 0;
  let lastPosted = 0;
  let lastRateAt = Date.now();
  const recent: string[] = [];
  const note = (s: string): void => {
    const line = `${clock()} ${s}`;
    if (!tty) write(line + '\n');
    recent.push(line);
    if (recent.length > 9) recent.shift();
  };

  const plain = plainObserver((l) => write(l + '\n'));
  const observer: LiveObserver = {
    phase: (p, d) => {
      phase = `${p}${d ? `: ${d}` : ''}`;
      if (!tty) plain.phase?.(p, d);
    },
    enrolled: (s, done, total) => {
      enrolled = `${done}/${total}`;
      if (!tty) plain.enrolled?.(s, done, total);
    },
    decision: (d: DecisionSeen) => {
      if (!d.rogue) return;
      const what = d.decision === 'deny' ? color(tty, '31;1', `DENIED ${d.serial}`) : color(tty, '33', `admitted ${d.serial}`);
      note(`${what} from ${d.sourceIp} (${d.channel}${d.reason ? `: ${d.reason}` : ''})`);
    },
    payment: (p) => {
      if (p.held) note(`${color(tty, '35;1', 'PAYMENT HELD')} by the gateway: ${p.txId} (risk ${p.riskLevel})`);
    },
    tick: (counters, s, sp) => {
      c = counters;
      sim = s;
      span = sp;
      const now = Date.now();
      if (now - lastRateAt >= 1000) {
        rate = Math.round(((counters.eventsPosted - lastPosted) * 1000) / (now - lastRateAt));
        lastPosted = counters.eventsPosted;
        lastRateAt = now;
      }
      if (!tty) plain.tick?.(counters, s, sp);
    },
  };

  const draw = (): string => {
    const simAt = new Date(opts.simStart + sim + KST).toISOString().slice(0, 16).replace('T', ' ');
    const pct = Math.min(100, Math.round((100 * sim) / span));
    const bar = '#'.repeat(Math.round(pct / 4)).padEnd(25, '-');
    const k = c;
    const reasons = k ? Object.entries(k.deniedByReason).map(([r, n]) => `${r} ${n}`).join(', ') : '';
    const sev = ['critical', 'high', 'medium', 'low'].filter((s) => alertsBy[s]).map((s) => `${s} ${alertsBy[s]}`).join(', ');
    return [
      color(tty, '1', opts.title),
      `  phase        ${phase}`.slice(0, 110),
      `  simulated    ${simAt} KST [${bar}] ${pct}%`,
      `  enrolled     ${enrolled} over EST`,
      `  admission    ${k?.admitted ?? 0} admitted, ${color(tty, '31', `${k?.denied ?? 0} denied`)}${reasons ? ` (${reasons})` : ''}`.slice(0, 140),
      `  events       ${k?.eventsPosted ?? 0} posted, ${rate}/s`,
      `  alerts       ${alerts}${sev ? ` (${sev})` : ''}`,
      `  exposed      ${exposed} subscribers on flagged cells`,
      `  payments     ${serverHolds} held by femtoguard, ${k?.paymentsHeld ?? 0} held by the gateway (risk API), ${k?.paymentsAllowed ?? 0} allowed`,
      '',
      ...recent.map((l) => `  ${l}`.slice(0, 160)),
    ].join('\n');
  };
  let drawn = 0;
  const redraw = (): void => {
    const text = draw();
    write((drawn > 0 ? `\x1b[${drawn}F\x1b[J` : '') + text + '\n');
    drawn = text.split('\n').length;
  };
  const timer = tty ? setInterval(redraw, 250) : null;

  return {
    observer,
    alert: (a, isNew) => {
      if (!isNew) return;
      alerts++;
      alertsBy[a.severity] = (alertsBy[a.severity] ?? 0) + 1;
      if (a.rule === 'payment-exposure') serverHolds++;
      if ((SEV_RANK[a.severity] ?? 0) >= SEV_RANK.high!) {
        const who = a.txId ?? a.serial ?? a.cellId ?? '';
        note(`${color(tty, a.severity === 'critical' ? '41;37;1' : '31', `ALERT ${a.severity}`)} ${a.rule} ${who}`);
      }
    },
    exposed: (n) => {
      if (n !== exposed && !tty) note(`exposed: ${n} subscribers on flagged cells`);
      exposed = n;
    },
    stop: () => {
      if (timer) {
        clearInterval(timer);
        redraw();
      }
    },
  };
}
