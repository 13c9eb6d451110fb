/**
 * Addresses and time of a live run.
 *
 * Addresses: the simulated fleet lives on public-looking /24s (175.x.y.0/24 broadband lines,
 * a rogue's 211.36.140.0/24 ...), but a live run connects from this machine. Every /24 of the
 * simulation is given its own /24 inside 127.0.0.0/8 (all of it is loopback on Linux, and a
 * socket may bind any of it), so a device really connects from "its" line, the registry holds
 * the matching prefix, and admission's `source-prefix` check judges real connection addresses.
 *
 * Time: see `TimeMap`.
 */

/** Maps each simulated /24 to 127.a.b.0/24 in order of first use: deterministic for one run's stream. */
export class LoopbackMap {
  private readonly nets = new Map<string, string>();

  /** `A.B.C.D` → `127.a.b.D`; `A.B.C.0/24` → `127.a.b.0/24`. Anything else is returned unchanged. */
  address(ip: string): string {
    const m = /^(\d+\.\d+\.\d+)\.(\d+)$/.exec(ip);
    if (!m) return ip;
    return `${this.net(m[1] as string)}.${m[2] as string}`;
  }

  prefix(p: string): string {
    const m = /^(\d+\.\d+\.\d+)\.0\/24$/.exec(p);
    return m ? `${this.net(m[1] as string)}.0/24` : p;
  }

  private net(n: string): string {
    let v = this.nets.get(n);
    if (v === undefined) {
      const k = this.nets.size + 1; // 127.0.0.0/24 (127.0.0.1, the server) is left alone
      if (k > 65_279) throw new RangeError('live mode: more than 65,279 simulated /24 networks');
      v = `127.${k >> 8}.${k & 255}`;
      this.nets.set(n, v);
    }
    return v;
  }
}

/**
 * Simulated time → event time. The replay is compressed: simulated time `t` is played at wall
 * clock `t0 + (t - start) / speed`, and the event carries that same instant as its `ts`. Event
 * time therefore stays the server's wall clock, which is what admission (it stamps its own
 * `femto.session`/`femto.report` with its clock), the payment risk API (it scores at its
 * `now`) and the live engine's short reorder horizon (5 s) all assume. The price: every
 * event-time window of a detection rule spans `speed` times more simulated activity (docs/simulator.md).
 */
export class TimeMap {
  constructor(
    readonly start: number,
    readonly t0: number,
    readonly speed: number,
  ) {}

  /** event time (ms, integer) of simulated time `t` */
  event(t: number): number {
    return this.t0 + Math.floor((t - this.start) / this.speed);
  }

  /** simulated time of event time `e` (for the view) */
  simulated(e: number): number {
    return this.start + (e - this.t0) * this.speed;
  }
}

/** The certificates of an RFC 7030 §4.1.3 certs-only reply (base64 PKCS#7 SignedData), in the reply's order. */
export function certsFromPkcs7(base64: string): Buffer[] {
  const der = Buffer.from(base64.replace(/\s+/g, ''), 'base64');
  // ContentInfo ::= SEQUENCE { contentType, [0] EXPLICIT SignedData } (RFC 5652 §3)
  const ci = node(der, 0);
  const ct = node(der, ci.body);
  const wrap = node(der, ct.end);
  const sd = node(der, wrap.body);
  // SignedData ::= SEQUENCE { version, digestAlgorithms, encapContentInfo, [0] IMPLICIT certificates, ... } (§5.1)
  let at = sd.body;
  for (let i = 0; i < 3; i++) at = node(der, at).end;
  const certs = node(der, at);
  if (der[certs.start] !== 0xa0) throw new Error('EST reply: no certificates in the PKCS#7');
  const out: Buffer[] = [];
  for (let p = certs.body; p < certs.end; ) {
    const c = node(der, p);
    out.push(der.subarray(c.start, c.end));
    p = c.end;
  }
  return out;
}

/** One DER TLV: where it starts, where its contents start, where it ends. */
function node(b: Buffer, start: number): { start: number; body: number; end: number } {
  if (start + 2 > b.length) throw new Error('EST reply: truncated DER');
  let len = b[start + 1] as number;
  let body = start + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4) throw new Error('EST reply: unsupported DER length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + (b[body + i] as number);
    body += n;
  }
  const end = body + len;
  if (end > b.length) throw new Error('EST reply: truncated DER');
  return { start, body, end };
}

export const toPem = (der: Buffer, label = 'CERTIFICATE'): string => `-----BEGIN ${label}-----\n${der.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n?$/, '\n')}-----END ${label}-----\n`;
