/**
 * The VICI wire format (strongSwan `src/libcharon/plugins/vici/README.md`): transport
 * segments (32-bit big-endian length, at most 512 KiB), packets (8-bit type, an 8-bit
 * length-prefixed name for the named types) and messages (a tree of sections, key/values
 * and lists). Everything read from the socket is untrusted: every length is checked
 * against what is left, and malformed input is a `ViciProtocolError`, never a crash.
 */

/** Packet types (README "Packet layer"). */
export const PacketType = {
  CMD_REQUEST: 0,
  CMD_RESPONSE: 1,
  CMD_UNKNOWN: 2,
  EVENT_REGISTER: 3,
  EVENT_UNREGISTER: 4,
  EVENT_CONFIRM: 5,
  EVENT_UNKNOWN: 6,
  EVENT: 7,
} as const;
export type PacketTypeCode = (typeof PacketType)[keyof typeof PacketType];

/** Message element types (README "Message format"). */
const SECTION_START = 1;
const SECTION_END = 2;
const KEY_VALUE = 3;
const LIST_START = 4;
const LIST_ITEM = 5;
const LIST_END = 6;

/** README "Transport protocol": the maximum segment length is 512KB of data. */
export const MAX_SEGMENT_BYTES = 512 * 1024;
/** Sections nest "to arbitrary levels"; a bound keeps hostile input from exhausting the stack. */
const MAX_DEPTH = 32;

/** Named packet types carry an 8-bit length-prefixed name after the type. */
const NAMED: ReadonlySet<number> = new Set([PacketType.CMD_REQUEST, PacketType.EVENT_REGISTER, PacketType.EVENT_UNREGISTER, PacketType.EVENT]);

export class ViciProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ViciProtocolError';
  }
}

/** A decoded message: values stay raw bytes (charon sends strings, but `list-cert` data is DER). */
export type ViciValue = Buffer | Buffer[] | ViciMessage;
export interface ViciMessage {
  [key: string]: ViciValue;
}

/** What callers may encode: numbers and booleans become strings (`yes`/`no`), as charon expects. */
export type ViciScalar = string | number | boolean | Buffer;
export interface ViciInput {
  [key: string]: ViciScalar | readonly ViciScalar[] | ViciInput | undefined;
}

const scalarBytes = (v: ViciScalar): Buffer => (Buffer.isBuffer(v) ? v : Buffer.from(typeof v === 'boolean' ? (v ? 'yes' : 'no') : String(v), 'utf8'));

function nameBytes(name: string, what: string): Buffer {
  const b = Buffer.from(name, 'utf8');
  if (b.length === 0 || b.length > 255) throw new ViciProtocolError(`${what} "${name.slice(0, 40)}" must be 1-255 bytes`);
  return b;
}

function valueBytes(v: ViciScalar, key: string): Buffer {
  const b = scalarBytes(v);
  if (b.length > 0xffff) throw new ViciProtocolError(`value of "${key}" is ${b.length} bytes; at most 65535 fit`);
  return b;
}

/** Encodes a message tree; `undefined` values are left out. */
export function encodeMessage(input: ViciInput): Buffer {
  const parts: Buffer[] = [];
  const u8 = (n: number): void => void parts.push(Buffer.from([n]));
  const named = (type: number, name: string): void => {
    const n = nameBytes(name, 'key');
    parts.push(Buffer.from([type, n.length]), n);
  };
  const value = (v: Buffer): void => {
    const h = Buffer.alloc(2);
    h.writeUInt16BE(v.length);
    parts.push(h, v);
  };
  const walk = (sec: ViciInput, depth: number): void => {
    if (depth > MAX_DEPTH) throw new ViciProtocolError('message nests too deep');
    for (const [k, v] of Object.entries(sec)) {
      if (v === undefined) continue;
      if (Array.isArray(v)) {
        named(LIST_START, k);
        for (const item of v as readonly ViciScalar[]) {
          u8(LIST_ITEM);
          value(valueBytes(item, k));
        }
        u8(LIST_END);
      } else if (typeof v === 'object' && !Buffer.isBuffer(v)) {
        named(SECTION_START, k);
        walk(v as ViciInput, depth + 1);
        u8(SECTION_END);
      } else {
        named(KEY_VALUE, k);
        value(valueBytes(v as ViciScalar, k));
      }
    }
  };
  walk(input, 0);
  return Buffer.concat(parts);
}

/** Decodes a message; throws `ViciProtocolError` on anything the README does not allow. */
export function decodeMessage(buf: Buffer): ViciMessage {
  let pos = 0;
  const need = (n: number, what: string): void => {
    if (pos + n > buf.length) throw new ViciProtocolError(`truncated message: ${what} needs ${n} bytes at offset ${pos}, ${buf.length - pos} left`);
  };
  const readName = (): string => {
    need(1, 'name length');
    const len = buf[pos++] as number;
    if (len === 0) throw new ViciProtocolError(`empty name at offset ${pos - 1}`);
    need(len, 'name');
    const s = buf.toString('utf8', pos, pos + len);
    pos += len;
    return s;
  };
  const readValue = (): Buffer => {
    need(2, 'value length');
    const len = buf.readUInt16BE(pos);
    pos += 2;
    need(len, 'value');
    const v = Buffer.from(buf.subarray(pos, pos + len));
    pos += len;
    return v;
  };
  const newSection = (): ViciMessage => Object.create(null) as ViciMessage;
  const root = newSection();
  const stack: ViciMessage[] = [root];
  let list: Buffer[] | null = null;
  const put = (sec: ViciMessage, key: string, v: ViciValue): void => {
    // README: key names must be unique in the current section.
    if (Object.prototype.hasOwnProperty.call(sec, key)) throw new ViciProtocolError(`duplicate key "${key}"`);
    sec[key] = v;
  };
  while (pos < buf.length) {
    const type = buf[pos++] as number;
    const current = stack[stack.length - 1] as ViciMessage;
    if (list && type !== LIST_ITEM && type !== LIST_END) throw new ViciProtocolError(`element type ${type} inside a list at offset ${pos - 1}`);
    switch (type) {
      case SECTION_START: {
        if (stack.length > MAX_DEPTH) throw new ViciProtocolError('message nests too deep');
        const sec = newSection();
        put(current, readName(), sec);
        stack.push(sec);
        break;
      }
      case SECTION_END:
        if (stack.length === 1) throw new ViciProtocolError(`unbalanced section end at offset ${pos - 1}`);
        stack.pop();
        break;
      case KEY_VALUE: {
        const key = readName();
        put(current, key, readValue());
        break;
      }
      case LIST_START:
        list = [];
        put(current, readName(), list);
        break;
      case LIST_ITEM:
        if (!list) throw new ViciProtocolError(`list item outside a list at offset ${pos - 1}`);
        list.push(readValue());
        break;
      case LIST_END:
        if (!list) throw new ViciProtocolError(`list end outside a list at offset ${pos - 1}`);
        list = null;
        break;
      default:
        throw new ViciProtocolError(`unknown element type ${type} at offset ${pos - 1}`);
    }
  }
  if (list) throw new ViciProtocolError('message ends inside a list');
  if (stack.length !== 1) throw new ViciProtocolError('message ends inside a section');
  return root;
}

export interface Packet {
  type: PacketTypeCode;
  /** present for the named types */
  name?: string;
  /** the raw message (may be empty) */
  message: Buffer;
}

/** One transport segment (length header included) holding a packet. */
export function encodePacket(type: PacketTypeCode, name?: string, message: Buffer = Buffer.alloc(0)): Buffer {
  const head: number[] = [type];
  let nameBuf: Buffer = Buffer.alloc(0);
  if (NAMED.has(type)) {
    if (name === undefined) throw new ViciProtocolError(`packet type ${type} needs a name`);
    nameBuf = nameBytes(name, 'packet name');
    head.push(nameBuf.length);
  }
  const body = Buffer.concat([Buffer.from(head), nameBuf, message]);
  if (body.length > MAX_SEGMENT_BYTES) throw new ViciProtocolError(`packet of ${body.length} bytes exceeds the ${MAX_SEGMENT_BYTES}-byte segment limit`);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(body.length);
  return Buffer.concat([len, body]);
}

/** Splits a segment (length header removed) into its packet. */
export function decodePacket(segment: Buffer): Packet {
  if (segment.length === 0) throw new ViciProtocolError('empty segment');
  const type = segment[0] as number;
  if (type > PacketType.EVENT) throw new ViciProtocolError(`unknown packet type ${type}`);
  if (!NAMED.has(type)) return { type: type as PacketTypeCode, message: segment.subarray(1) };
  if (segment.length < 2) throw new ViciProtocolError(`packet type ${type} without a name`);
  const len = segment[1] as number;
  if (len === 0 || 2 + len > segment.length) throw new ViciProtocolError(`packet name length ${len} does not fit a ${segment.length}-byte segment`);
  return { type: type as PacketTypeCode, name: segment.toString('utf8', 2, 2 + len), message: segment.subarray(2 + len) };
}

/**
 * Reassembles segments from stream chunks. A length above the limit cannot be resynchronised
 * (there is no framing besides the length), so it throws and the connection must be dropped.
 */
export class SegmentReader {
  private chunks: Buffer[] = [];
  private buffered = 0;

  push(chunk: Buffer): Buffer[] {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const out: Buffer[] = [];
    for (;;) {
      if (this.buffered < 4) return out;
      const all = this.chunks.length === 1 ? (this.chunks[0] as Buffer) : Buffer.concat(this.chunks);
      this.chunks = [all];
      const len = all.readUInt32BE(0);
      if (len === 0 || len > MAX_SEGMENT_BYTES) throw new ViciProtocolError(`segment length ${len} is outside 1..${MAX_SEGMENT_BYTES}`);
      if (all.length < 4 + len) return out;
      out.push(Buffer.from(all.subarray(4, 4 + len)));
      const rest = all.subarray(4 + len);
      this.chunks = rest.length ? [rest] : [];
      this.buffered = rest.length;
    }
  }
}

/** A value as text (charon encodes every scalar as a string); undefined if absent or not a scalar. */
export function text(m: ViciMessage | undefined, key: string): string | undefined {
  const v = m?.[key];
  return Buffer.isBuffer(v) ? v.toString('utf8') : undefined;
}

/** A sub-section, or undefined. */
export function section(m: ViciMessage | undefined, key: string): ViciMessage | undefined {
  const v = m?.[key];
  return v !== undefined && !Buffer.isBuffer(v) && !Array.isArray(v) ? v : undefined;
}

/** A list as text items, or undefined. */
export function textList(m: ViciMessage | undefined, key: string): string[] | undefined {
  const v = m?.[key];
  return Array.isArray(v) ? v.map((b) => b.toString('utf8')) : undefined;
}

/** The message as plain JSON-able values (strings), for logs and tests. */
export function toPlain(m: ViciMessage): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(m)) {
    out[k] = Buffer.isBuffer(v) ? v.toString('utf8') : Array.isArray(v) ? v.map((b) => b.toString('utf8')) : toPlain(v);
  }
  return out;
}
