/** Text output of live mode: progress lines for logs and pipes, and the closing report. */
import { formatScore, type LiveObserver, type LiveSummary, type ServerReport } from '../sim/index.js';

/** One line per phase, per rogue decision and per payment held, and a status line every 5 s. */
export function plainObserver(write: (line: string) => void): LiveObserver {
  let last = 0;
  const hms = (ms: number): string => `${Math.floor(ms / 3_600_000)}h${String(Math.floor((ms % 3_600_000) / 60_000)).padStart(2, '0')}`;
  return {
    phase: (p, detail) => write(`[${p}] ${detail}`.trimEnd()),
    enrolled: (_s, done, total) => {
      if (done === total || done % 100 === 0) write(`  enrolled ${done}/${total} over EST`);
    },
    decision: (d) => {
      if (d.rogue) write(`  ${d.decision === 'deny' ? 'DENIED' : 'admitted'} ${d.serial} from ${d.sourceIp} (${d.channel}${d.reason ? `: ${d.reason}` : ''})`);
    },
    payment: (p) => {
      if (p.held) write(`  payment ${p.txId} held by the gateway (risk ${p.riskLevel})`);
    },
    tick: (c, sim, span) => {
      const now = Date.now();
      if (now - last < 5000) return;
      last = now;
      write(`  sim ${hms(sim)}/${hms(span)}: ${c.admitted} admitted, ${c.denied} denied, ${c.eventsPosted} events, ${c.paymentsHeld} payments held`);
    },
  };
}

export function formatLive(s: LiveSummary, r: ServerReport): string {
  const reasons = Object.entries(s.deniedByReason)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  return [
    `live run against ${s.target} (EST ${s.est}): ${s.devices} devices, ${s.simulatedHours.toFixed(1)} simulated hours at ${s.speed}x in ${s.elapsedSeconds.toFixed(0)} s${s.stoppedEarly ? ' (stopped early)' : ''}`,
    `  enrolled ${s.enrolled}${s.enrollFailed ? ` (${s.enrollFailed} failed)` : ''}; admitted ${s.admitted}; denied ${s.denied}${reasons ? ` (${reasons})` : ''}`,
    ...(s.clientErrors ? [`  ${s.clientErrors} requests failed below HTTP (last: ${s.lastClientError ?? ''})`] : []),
    `  events posted ${s.eventsPosted}, rejected ${s.eventsRejected}, duplicates ${s.eventsDuplicate}; payment gateway held ${s.paymentsHeld}, allowed ${s.paymentsAllowed}; worst lag ${s.maxLagMs} ms`,
    `  server: ${r.alerts.length} alerts (${Object.entries(r.bySeverity).map(([k, v]) => `${k} ${v}`).join(', ')}), ${r.held.length} payments held (${r.fraudHeld} of ${s.truth.fraudTx.length} fraudulent), impact lists ${r.impactImsis.length} subscribers`,
    `  files: ${s.dir} (live-truth.json has the truth in event time)`,
    formatScore(r.score).trimEnd(),
  ].join('\n') + '\n';
}
