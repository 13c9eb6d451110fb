/**
 * A VICI client (strongSwan's control interface) over a unix socket, in TypeScript. VICI has
 * no sequence numbers ("only one command can be active at a time on a single connection",
 * README "Commands"), so requests are serialised; a request that times out leaves the stream
 * unsynchronised and closes the connection. Events may arrive at any time, also in the middle
 * of a request, and go to the handlers registered for their name.
 */
import { createConnection, type Socket } from 'node:net';
import {
  decodeMessage,
  decodePacket,
  encodeMessage,
  encodePacket,
  PacketType,
  SegmentReader,
  text,
  ViciProtocolError,
  type Packet,
  type PacketTypeCode,
  type ViciInput,
  type ViciMessage,
} from './vici-codec.js';

export type ViciErrorCode = 'connect' | 'closed' | 'timeout' | 'protocol' | 'unknown_command' | 'unknown_event' | 'command_failed';

export class ViciError extends Error {
  readonly code: ViciErrorCode;
  constructor(code: ViciErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ViciError';
    this.code = code;
  }
}

export interface ViciClientOptions {
  /** how long one request (or registration) may take before the connection is dropped */
  timeoutMs?: number;
  /** how long to wait for the socket to accept */
  connectTimeoutMs?: number;
}

type EventHandler = (message: ViciMessage) => void;

interface Waiter {
  accept: readonly PacketTypeCode[];
  resolve(p: Packet): void;
  reject(e: Error): void;
}

/** One VICI connection. Create with `ViciClient.connect(path)`. */
export class ViciClient {
  private readonly reader = new SegmentReader();
  private chain: Promise<unknown> = Promise.resolve();
  private waiter: Waiter | null = null;
  private readonly handlers = new Map<string, Set<EventHandler>>();
  private readonly closeListeners = new Set<(err: Error | null) => void>();
  private closedWith: Error | null | undefined = undefined;
  /** handler errors are reported here, never thrown into the socket's data path */
  onHandlerError: (event: string, err: unknown) => void = () => undefined;

  private constructor(
    private readonly socket: Socket,
    private readonly timeoutMs: number,
  ) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (e) => this.shutdown(new ViciError('closed', `VICI connection error: ${e.message}`, { cause: e })));
    socket.on('close', () => this.shutdown(null));
  }

  /** Connects to charon's VICI socket (e.g. `/var/run/charon.vici`). */
  static connect(path: string, opts: ViciClientOptions = {}): Promise<ViciClient> {
    return new Promise((resolve, reject) => {
      const socket = createConnection({ path });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new ViciError('connect', `connecting to VICI socket ${path} timed out`));
      }, opts.connectTimeoutMs ?? 5_000);
      socket.once('error', (e: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        reject(new ViciError('connect', `cannot connect to VICI socket ${path}: ${e.code ?? e.message}`, { cause: e }));
      });
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(new ViciClient(socket, opts.timeoutMs ?? 15_000));
      });
    });
  }

  get closed(): boolean {
    return this.closedWith !== undefined;
  }

  /** Called once when the connection ends: `null` for an orderly close, else the reason. */
  onClose(listener: (err: Error | null) => void): () => void {
    if (this.closedWith !== undefined) {
      const err = this.closedWith;
      queueMicrotask(() => listener(err));
      return () => undefined;
    }
    this.closeListeners.add(listener);
    return () => this.closeListeners.delete(listener);
  }

  close(): void {
    this.shutdown(null);
  }

  /** A command with a single response message (`version`, `terminate`, `flush-certs`, ...). */
  request(command: string, args: ViciInput = {}): Promise<ViciMessage> {
    return this.exclusive(() => this.requestRaw(command, args));
  }

  /**
   * A command whose data comes as `event` messages before the response (`list-sas` streams
   * `list-sa`): registers for the event, runs the command, unregisters.
   */
  streamed(command: string, event: string, args: ViciInput = {}): Promise<{ response: ViciMessage; events: ViciMessage[] }> {
    return this.exclusive(async () => {
      const events: ViciMessage[] = [];
      const collect: EventHandler = (m) => void events.push(m);
      await this.addHandler(event, collect);
      try {
        const response = await this.requestRaw(command, args);
        return { response, events };
      } finally {
        if (!this.closed) await this.removeHandler(event, collect);
      }
    });
  }

  /** Registers for an event (`ike-updown`, `ike-rekey`, ...); resolves to the unsubscribe function. */
  async subscribe(event: string, handler: EventHandler): Promise<() => Promise<void>> {
    await this.exclusive(() => this.addHandler(event, handler));
    return async () => {
      if (!this.closed) await this.exclusive(() => this.removeHandler(event, handler));
    };
  }

  // --- the commands the SeGW bridge uses ---

  async version(): Promise<{ daemon: string; version: string }> {
    const r = await this.request('version');
    return { daemon: text(r, 'daemon') ?? '', version: text(r, 'version') ?? '' };
  }

  /** `list-sas`: each returned message maps an IKE config name to the SA's details. */
  async listSas(filter: { ike?: string; ikeId?: string | number; noblock?: boolean } = {}): Promise<ViciMessage[]> {
    const { events } = await this.streamed('list-sas', 'list-sa', {
      ike: filter.ike,
      'ike-id': filter.ikeId,
      noblock: filter.noblock ? 'yes' : undefined,
    });
    return events;
  }

  /**
   * `terminate` an IKE SA by unique id or config name. `force` deletes it without waiting for
   * the peer's answer to the DELETE (a rogue peer could stall it), unless `timeoutMs` is given.
   */
  async terminate(opts: { ikeId?: string | number; ike?: string; force?: boolean; timeoutMs?: number }): Promise<void> {
    if (opts.ikeId === undefined && opts.ike === undefined) throw new ViciError('command_failed', 'terminate needs an IKE SA id or name');
    const r = await this.request('terminate', {
      'ike-id': opts.ikeId,
      ike: opts.ike,
      force: opts.force ? 'yes' : undefined,
      timeout: opts.timeoutMs,
    });
    checkSuccess(r, 'terminate');
  }

  /** `flush-certs`: drops cached certificates of a type (`ocsp_response`, `x509_crl`, ...). */
  async flushCerts(type: string): Promise<void> {
    checkSuccess(await this.request('flush-certs', { type }), 'flush-certs');
  }

  /** `list-certs`: certificates charon knows, including those cached from peers. */
  async listCerts(filter: { type?: string; flag?: string; subject?: string } = {}): Promise<{ type: string; flag: string; data: Buffer }[]> {
    const { events } = await this.streamed('list-certs', 'list-cert', { type: filter.type, flag: filter.flag, subject: filter.subject });
    const out: { type: string; flag: string; data: Buffer }[] = [];
    for (const e of events) {
      const data = e.data;
      if (Buffer.isBuffer(data)) out.push({ type: text(e, 'type') ?? '', flag: text(e, 'flag') ?? '', data });
    }
    return out;
  }

  // --- internals ---

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async requestRaw(command: string, args: ViciInput): Promise<ViciMessage> {
    const p = await this.roundTrip(encodePacket(PacketType.CMD_REQUEST, command, encodeMessage(args)), [PacketType.CMD_RESPONSE, PacketType.CMD_UNKNOWN], command);
    if (p.type === PacketType.CMD_UNKNOWN) throw new ViciError('unknown_command', `charon does not know the VICI command "${command}"`);
    return this.decodeOrDrop(p.message);
  }

  private async addHandler(event: string, handler: EventHandler): Promise<void> {
    let set = this.handlers.get(event);
    if (set && set.size > 0) {
      set.add(handler);
      return;
    }
    set = new Set([handler]);
    this.handlers.set(event, set);
    try {
      const p = await this.roundTrip(encodePacket(PacketType.EVENT_REGISTER, event), [PacketType.EVENT_CONFIRM, PacketType.EVENT_UNKNOWN], `register ${event}`);
      if (p.type === PacketType.EVENT_UNKNOWN) throw new ViciError('unknown_event', `charon does not know the VICI event "${event}"`);
    } catch (e) {
      this.handlers.delete(event);
      throw e;
    }
  }

  private async removeHandler(event: string, handler: EventHandler): Promise<void> {
    const set = this.handlers.get(event);
    if (!set?.delete(handler) || set.size > 0) return;
    this.handlers.delete(event);
    await this.roundTrip(encodePacket(PacketType.EVENT_UNREGISTER, event), [PacketType.EVENT_CONFIRM, PacketType.EVENT_UNKNOWN], `unregister ${event}`);
  }

  private roundTrip(segment: Buffer, accept: readonly PacketTypeCode[], what: string): Promise<Packet> {
    if (this.closedWith !== undefined) return Promise.reject(new ViciError('closed', `VICI connection is closed (${what})`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        // The answer may still come later and would be taken for the next request's: drop the connection.
        this.shutdown(new ViciError('timeout', `VICI ${what} got no answer within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      this.waiter = {
        accept,
        resolve: (p) => {
          clearTimeout(timer);
          resolve(p);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      this.socket.write(segment);
    });
  }

  private decodeOrDrop(message: Buffer): ViciMessage {
    try {
      return decodeMessage(message);
    } catch (e) {
      const err = new ViciError('protocol', `malformed VICI message: ${(e as Error).message}`, { cause: e });
      this.shutdown(err);
      throw err;
    }
  }

  private onData(chunk: Buffer): void {
    try {
      for (const seg of this.reader.push(chunk)) this.onPacket(decodePacket(seg));
    } catch (e) {
      const msg = e instanceof ViciProtocolError || e instanceof ViciError ? e.message : String(e);
      this.shutdown(e instanceof ViciError ? e : new ViciError('protocol', `malformed VICI data: ${msg}`, { cause: e }));
    }
  }

  private onPacket(p: Packet): void {
    if (p.type === PacketType.EVENT) {
      const set = this.handlers.get(p.name ?? '');
      if (!set || set.size === 0) return;
      // Malformed event messages are a protocol error like any other (decodeMessage throws).
      const message = decodeMessage(p.message);
      for (const h of [...set]) {
        try {
          h(message);
        } catch (e) {
          this.onHandlerError(p.name ?? '', e);
        }
      }
      return;
    }
    const w = this.waiter;
    if (!w || !w.accept.includes(p.type)) throw new ViciError('protocol', `unexpected VICI packet type ${p.type}`);
    this.waiter = null;
    w.resolve(p);
  }

  private shutdown(err: Error | null): void {
    if (this.closedWith !== undefined) return;
    this.closedWith = err;
    this.socket.destroy();
    const w = this.waiter;
    this.waiter = null;
    w?.reject(err ?? new ViciError('closed', 'VICI connection closed'));
    for (const l of this.closeListeners) l(err);
    this.closeListeners.clear();
  }
}

function checkSuccess(r: ViciMessage, what: string): void {
  if (text(r, 'success') !== 'yes') throw new ViciError('command_failed', `${what} failed: ${text(r, 'errmsg') ?? 'no reason given'}`);
}
