/** Scheduling primitives of the simulator: a deterministic min-heap of jobs and a cheap timestamp formatter. */

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

/**
 * Min-heap on `at`; ties by insertion order so output is deterministic. The keys live in
 * their own arrays (unboxed doubles), so sifting does not chase a pointer per comparison.
 */
export class Heap {
  private jobs: Job[] = [];
  private ats: number[] = [];
  private seqs: number[] = [];
  private seq = 0;
  get size(): number {
    return this.jobs.length;
  }
  push(j: Job): void {
    const { jobs, ats, seqs } = this;
    const at = j.at;
    const s = this.seq++;
    let i = jobs.length;
    jobs.push(j);
    ats.push(at);
    seqs.push(s);
    while (i > 0) {
      const p = (i - 1) >> 1;
      const pa = ats[p] as number;
      if (pa < at || (pa === at && (seqs[p] as number) < s)) break;
      jobs[i] = jobs[p] as Job;
      ats[i] = pa;
      seqs[i] = seqs[p] as number;
      i = p;
    }
    jobs[i] = j;
    ats[i] = at;
    seqs[i] = s;
  }
  pop(): Job {
    const { jobs, ats, seqs } = this;
    const top = jobs[0] as Job;
    const last = jobs.pop() as Job;
    const la = ats.pop() as number;
    const ls = seqs.pop() as number;
    const n = jobs.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        let c = l;
        if (r < n) {
          const ra = ats[r] as number;
          const la2 = ats[l] as number;
          if (ra < la2 || (ra === la2 && (seqs[r] as number) < (seqs[l] as number))) c = r;
        }
        const ca = ats[c] as number;
        if (la < ca || (la === ca && ls < (seqs[c] as number))) break;
        jobs[i] = jobs[c] as Job;
        ats[i] = ca;
        seqs[i] = seqs[c] as number;
        i = c;
      }
      jobs[i] = last;
      ats[i] = la;
      seqs[i] = ls;
    }
    return top;
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

