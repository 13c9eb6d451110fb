/**
 * A fake charon VICI server on a unix socket, for the VICI client and bridge tests: it speaks
 * the real wire format (the codec under test is not used to parse its own requests blindly:
 * requests are decoded and checked), keeps a table of IKE SAs, and can be told to misbehave.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeMessage, decodePacket, encodeMessage, encodePacket, PacketType, SegmentReader, text, type ViciInput, type ViciMessage } from './vici-codec.js';

export interface FakeSa {
  name: string;
  uniqueid: string;
  remoteId: string;
  remoteHost: string;
  localHost?: string;
  localPort?: string;
  initiatorSpi?: string;
  state?: string;
}

interface Conn {
  socket: Socket;
  events: Set<string>;
}

/** Known events; registering anything else gets EVENT_UNKNOWN. */
const KNOWN_EVENTS = new Set(['ike-updown', 'ike-rekey', 'child-updown', 'list-sa', 'list-cert', 'control-log', 'log']);

export class FakeVici {
  readonly sas = new Map<string, FakeSa>();
  /** DER certificates `list-certs` returns, by subject */
  readonly certs: { subject: string; flag: string; data: Buffer }[] = [];
  /** every command received, in order */
  readonly commands: { name: string; args: Record<string, unknown> }[] = [];
  /** override a command: return a response message, or 'unknown' for CMD_UNKNOWN, or 'silent' to never answer */
  readonly overrides = new Map<string, (args: ViciMessage) => ViciInput | 'unknown' | 'silent'>();
  private readonly conns = new Set<Conn>();
  private dir: string;

  private constructor(
    private server: Server,
    readonly path: string,
    dir: string,
  ) {
    this.dir = dir;
  }

  static async start(path?: string): Promise<FakeVici> {
    const dir = mkdtempSync(join(tmpdir(), 'fg-vici-'));
    const p = path ?? join(dir, 'charon.vici');
    const fake: FakeVici = new FakeVici(createServer(), p, dir);
    await fake.listen();
    return fake;
  }

  private listen(): Promise<void> {
    this.server = createServer((socket) => this.accept(socket));
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.path, () => resolve());
    });
  }

  /** connected clients */
  get connections(): number {
    return this.conns.size;
  }

  /** clients registered for `event` */
  registered(event: string): number {
    return [...this.conns].filter((c) => c.events.has(event)).length;
  }

  private accept(socket: Socket): void {
    const conn: Conn = { socket, events: new Set() };
    this.conns.add(conn);
    const reader = new SegmentReader();
    socket.on('close', () => this.conns.delete(conn));
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => {
      try {
        for (const seg of reader.push(chunk)) this.onPacket(conn, seg);
      } catch {
        socket.destroy();
      }
    });
  }

  private send(conn: Conn, type: (typeof PacketType)[keyof typeof PacketType], name?: string, msg?: ViciInput): void {
    conn.socket.write(encodePacket(type, name, msg ? encodeMessage(msg) : undefined));
  }

  private onPacket(conn: Conn, seg: Buffer): void {
    const p = decodePacket(seg);
    const name = p.name ?? '';
    if (p.type === PacketType.EVENT_REGISTER || p.type === PacketType.EVENT_UNREGISTER) {
      if (!KNOWN_EVENTS.has(name)) return this.send(conn, PacketType.EVENT_UNKNOWN);
      if (p.type === PacketType.EVENT_REGISTER) conn.events.add(name);
      else conn.events.delete(name);
      return this.send(conn, PacketType.EVENT_CONFIRM);
    }
    if (p.type !== PacketType.CMD_REQUEST) return void conn.socket.destroy();
    const args = decodeMessage(p.message);
    const plain: Record<string, unknown> = {};
    for (const k of Object.keys(args)) plain[k] = text(args, k) ?? args[k];
    this.commands.push({ name, args: plain });
    const override = this.overrides.get(name);
    if (override) {
      const r = override(args);
      if (r === 'silent') return;
      if (r === 'unknown') return this.send(conn, PacketType.CMD_UNKNOWN);
      return this.send(conn, PacketType.CMD_RESPONSE, undefined, r);
    }
    switch (name) {
      case 'version':
        return this.send(conn, PacketType.CMD_RESPONSE, undefined, { daemon: 'charon', version: '5.9.8-fake' });
      case 'list-sas': {
        const id = text(args, 'ike-id');
        for (const sa of this.sas.values()) {
          if (id !== undefined && sa.uniqueid !== id) continue;
          if (conn.events.has('list-sa')) this.send(conn, PacketType.EVENT, 'list-sa', { [sa.name]: { ...saBody(sa), 'child-sas': {} } });
        }
        return this.send(conn, PacketType.CMD_RESPONSE, undefined, {});
      }
      case 'terminate': {
        const id = text(args, 'ike-id');
        const sa = [...this.sas.values()].find((s) => s.uniqueid === id);
        if (!sa) return this.send(conn, PacketType.CMD_RESPONSE, undefined, { success: 'no', errmsg: 'no matching SAs to terminate found', matches: 0, terminated: 0 });
        this.down(sa.uniqueid);
        return this.send(conn, PacketType.CMD_RESPONSE, undefined, { success: 'yes', matches: 1, terminated: 1 });
      }
      case 'flush-certs':
        return this.send(conn, PacketType.CMD_RESPONSE, undefined, { success: 'yes' });
      case 'list-certs': {
        const subject = text(args, 'subject');
        for (const c of this.certs) {
          if (subject !== undefined && c.subject !== subject) continue;
          if (conn.events.has('list-cert')) this.send(conn, PacketType.EVENT, 'list-cert', { type: 'X509', flag: c.flag, data: c.data });
        }
        return this.send(conn, PacketType.CMD_RESPONSE, undefined, {});
      }
      default:
        return this.send(conn, PacketType.CMD_UNKNOWN);
    }
  }

  /** Sends an event to every client registered for it. */
  emit(event: string, msg: ViciInput): void {
    for (const c of this.conns) if (c.events.has(event)) this.send(c, PacketType.EVENT, event, msg);
  }

  /** An SA comes up: added to the table and announced with `ike-updown up=yes`. */
  up(sa: FakeSa): void {
    this.sas.set(sa.uniqueid, sa);
    this.emit('ike-updown', { up: 'yes', [sa.name]: saBody(sa) });
  }

  /** An SA goes down: removed and announced (no `up` key, as charon does). */
  down(uniqueid: string): void {
    const sa = this.sas.get(uniqueid);
    if (!sa) return;
    this.sas.delete(uniqueid);
    this.emit('ike-updown', { [sa.name]: { ...saBody(sa), state: 'DELETING' } });
  }

  /** Raw bytes to every client (malformed-input tests). */
  writeRaw(bytes: Buffer): void {
    for (const c of this.conns) c.socket.write(bytes);
  }

  /** Drops every client connection (a charon restart, as the bridge sees it). */
  dropClients(): void {
    for (const c of this.conns) c.socket.destroy();
    this.conns.clear();
  }

  /** Stops listening and drops clients; `restart` listens again on the same path. */
  async stop(): Promise<void> {
    this.dropClients();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  async restart(): Promise<void> {
    await this.listen();
  }

  async close(): Promise<void> {
    await this.stop().catch(() => undefined);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function saBody(sa: FakeSa): ViciInput {
  return {
    uniqueid: sa.uniqueid,
    version: 2,
    state: sa.state ?? 'ESTABLISHED',
    'local-host': sa.localHost ?? '198.18.0.1',
    'local-port': sa.localPort ?? '4500',
    'local-id': 'O=Operator, CN=segw.test',
    'remote-host': sa.remoteHost,
    'remote-port': '4500',
    'remote-id': sa.remoteId,
    'initiator-spi': sa.initiatorSpi ?? `00000000000000${sa.uniqueid.padStart(2, '0')}`.slice(-16),
    'responder-spi': 'feedfacecafebeef',
    established: 0,
  };
}
