/** Scheduling primitives of the simulator: a deterministic min-heap of jobs and a cheap timestamp formatter. */
import { SeqHeap } from '../core/index.js';

const MIN = 60_000;

export const enum K {
  Report,
  Attach,
  Reboot,
  Up,
  Ims,
  Pay,
  Relocate,
  Line,
}

/** What a prepared line means for the ground truth, recorded only if the line is written. */
export interface LineMeta {
  /** a subscriber attach on a compromised cell: cellId and IMSI */
  exposed?: { cellId: string; imsi: string };
  /** a fraudulent payment's txId */
  fraudTx?: string;
}

export interface Job {
  /** heap key: when the line is written (event time plus any arrival delay) */
  at: number;
  kind: K;
  d: number;
  s: number;
  cell: string;
  line: string;
  meta?: LineMeta;
}

/** The job scheduler: earliest `at` first, equal times in the order they were scheduled (deterministic output). */
export class Heap extends SeqHeap<Job> {
  constructor() {
    super((a, as, b, bs) => a.at < b.at || (a.at === b.at && as < bs));
  }
}

/**
 * `YYYY-MM-DDTHH:MM:SS.mmm` of a time, without a Date per event: the stream is nearly in
 * order, so the date-and-minute prefix is formatted once per minute.
 */
export class MinuteClock {
  private minute = NaN;
  private prefix = '';
  format(t: number): string {
    const m = Math.floor(t / MIN);
    if (m !== this.minute) {
      this.minute = m;
      this.prefix = new Date(m * MIN).toISOString().slice(0, 17);
    }
    const rest = t - m * MIN;
    const s = Math.floor(rest / 1000);
    const ms = rest - s * 1000;
    return `${this.prefix}${s < 10 ? '0' : ''}${s}.${ms < 10 ? '00' : ms < 100 ? '0' : ''}${ms}`;
  }
}

