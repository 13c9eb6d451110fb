import { randomId } from '../core/ids.js';

/** A live session of one identity: from check-ins, or reported up by an external gateway. */
export interface LiveSession {
  id: string;
  serial: string;
  sourceIp: string;
  via: 'checkin' | 'gateway';
  endpoint: string | null;
  /** the gateway's own id for the session (pairs its up and down) */
  gatewaySessionId: string | null;
  startedAt: number;
  lastSeen: number;
  expiresAt: number;
}

export interface LiveSessionsOptions {
  /** a check-in keeps the session live this long */
  checkinTtlMs: number;
  /** a gateway session without a `down` is forgotten after this long */
  gatewayTtlMs: number;
}

/**
 * One live session per identity (serial). A check-in or a gateway `up` from the same address
 * refreshes it; from another address, while it is live, it is a second concurrent session:
 * the same credential in two places, which is what a cloned femtocell looks like.
 *
 * In memory: after a restart every identity starts free, which errs towards admitting the
 * first comer; detection's `credential-shared` rule still sees both addresses in the event log.
 */
export class LiveSessions {
  private readonly bySerial = new Map<string, LiveSession>();

  constructor(private readonly opts: LiveSessionsOptions) {}

  /** The live session of `serial`, dropping it when it has expired. */
  get(serial: string, nowMs: number): LiveSession | undefined {
    const s = this.bySerial.get(serial);
    if (s && s.expiresAt <= nowMs) {
      this.bySerial.delete(serial);
      return undefined;
    }
    return s;
  }

  /** A live session of `serial` from an address other than `sourceIp`. */
  conflicting(serial: string, sourceIp: string, nowMs: number): LiveSession | undefined {
    const s = this.get(serial, nowMs);
    return s && s.sourceIp !== sourceIp ? s : undefined;
  }

  /**
   * Starts or refreshes the session of `serial` from `sourceIp`. The caller has checked that
   * there is no conflicting one; a session from another address is replaced.
   */
  touch(serial: string, sourceIp: string, via: LiveSession['via'], nowMs: number, extra: { endpoint?: string | null; gatewaySessionId?: string | null } = {}): LiveSession {
    const ttl = via === 'gateway' ? this.opts.gatewayTtlMs : this.opts.checkinTtlMs;
    const cur = this.get(serial, nowMs);
    if (cur && cur.sourceIp === sourceIp) {
      cur.lastSeen = nowMs;
      cur.expiresAt = Math.max(cur.expiresAt, nowMs + ttl);
      if (extra.endpoint) cur.endpoint = extra.endpoint;
      if (via === 'gateway') {
        cur.via = 'gateway';
        if (extra.gatewaySessionId) cur.gatewaySessionId = extra.gatewaySessionId;
      }
      return cur;
    }
    const s: LiveSession = {
      id: randomId('ses', 9),
      serial,
      sourceIp,
      via,
      endpoint: extra.endpoint ?? null,
      gatewaySessionId: extra.gatewaySessionId ?? null,
      startedAt: nowMs,
      lastSeen: nowMs,
      expiresAt: nowMs + ttl,
    };
    this.bySerial.set(serial, s);
    return s;
  }

  /**
   * Ends the session of `serial` a gateway reported down: only the one it names (by its
   * session id, else by address), so a stale `down` cannot free another device's slot.
   */
  end(serial: string, match: { sourceIp?: string | undefined; gatewaySessionId?: string | undefined }): LiveSession | undefined {
    const s = this.bySerial.get(serial);
    if (!s) return undefined;
    const same = match.gatewaySessionId && s.gatewaySessionId ? s.gatewaySessionId === match.gatewaySessionId : match.sourceIp === undefined || s.sourceIp === match.sourceIp;
    if (!same) return undefined;
    this.bySerial.delete(serial);
    return s;
  }

  /** Drops expired sessions; returns how many. */
  sweep(nowMs: number): number {
    let n = 0;
    for (const [k, s] of this.bySerial) {
      if (s.expiresAt <= nowMs) {
        this.bySerial.delete(k);
        n++;
      }
    }
    return n;
  }

  get size(): number {
    return this.bySerial.size;
  }
}
