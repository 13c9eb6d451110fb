import { describe, expect, it } from 'vitest';
import { decodeMessage, decodePacket, encodeMessage, encodePacket, MAX_SEGMENT_BYTES, PacketType, SegmentReader, section, text, textList, toPlain, ViciProtocolError } from './vici-codec.js';

const ascii = (s: string): number[] => [...Buffer.from(s)];

/** The encoding example of strongSwan's vici README, byte for byte. */
const README_EXAMPLE = Buffer.from([
  3, 4, ...ascii('key1'), 0, 6, ...ascii('value1'),
  1, 8, ...ascii('section1'),
  1, 11, ...ascii('sub-section'),
  3, 4, ...ascii('key2'), 0, 6, ...ascii('value2'),
  2,
  4, 5, ...ascii('list1'),
  5, 0, 5, ...ascii('item1'),
  5, 0, 5, ...ascii('item2'),
  6,
  2,
]);

const bad = (bytes: number[]): (() => unknown) => () => decodeMessage(Buffer.from(bytes));

describe('VICI message encoding', () => {
  it('ok/encodes the README example exactly', () => {
    const m = encodeMessage({ key1: 'value1', section1: { 'sub-section': { key2: 'value2' }, list1: ['item1', 'item2'] } });
    expect(m.equals(README_EXAMPLE)).toBe(true);
  });

  it('ok/decodes the README example into sections, values and lists', () => {
    const m = decodeMessage(README_EXAMPLE);
    expect(toPlain(m)).toEqual({ key1: 'value1', section1: { 'sub-section': { key2: 'value2' }, list1: ['item1', 'item2'] } });
    expect(text(section(section(m, 'section1'), 'sub-section'), 'key2')).toBe('value2');
    expect(textList(section(m, 'section1'), 'list1')).toEqual(['item1', 'item2']);
    expect(text(m, 'section1')).toBeUndefined();
  });

  it('ok/numbers and booleans go as strings, undefined is left out, binary values survive', () => {
    const der = Buffer.from([0x30, 0x82, 0x00, 0xff, 0x00]);
    const m = decodeMessage(encodeMessage({ timeout: 2000, force: true, off: false, skip: undefined, data: der, empty: [] }));
    expect(toPlain(m)).toEqual({ timeout: '2000', force: 'yes', off: 'no', data: der.toString('utf8'), empty: [] });
    expect(m.data).toEqual(der);
  });

  it('ok/an empty message and a key named __proto__ are plain data', () => {
    expect(toPlain(decodeMessage(Buffer.alloc(0)))).toEqual({});
    const m = decodeMessage(Buffer.from([3, 9, ...ascii('__proto__'), 0, 1, 0x78]));
    expect(text(m, '__proto__')).toBe('x');
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });

  it('fail/a value longer than 65535 bytes or a key longer than 255 cannot be encoded', () => {
    expect(() => encodeMessage({ k: 'x'.repeat(65536) })).toThrow(ViciProtocolError);
    expect(() => encodeMessage({ ['k'.repeat(256)]: 'v' })).toThrow(ViciProtocolError);
    expect(() => encodeMessage({ '': 'v' })).toThrow(ViciProtocolError);
  });

  it('fail/truncated names and values', () => {
    expect(bad([3])).toThrow(/truncated/);
    expect(bad([3, 4, ...ascii('ke')])).toThrow(/truncated/);
    expect(bad([3, 1, ...ascii('k'), 0])).toThrow(/truncated/);
    expect(bad([3, 1, ...ascii('k'), 0, 9, ...ascii('short')])).toThrow(/truncated/);
    expect(bad([5, 0])).toThrow(ViciProtocolError);
  });

  it('fail/unbalanced sections and lists', () => {
    expect(bad([2])).toThrow(/unbalanced/);
    expect(bad([1, 1, ...ascii('s')])).toThrow(/inside a section/);
    expect(bad([4, 1, ...ascii('l'), 5, 0, 1, ...ascii('a')])).toThrow(/inside a list/);
    expect(bad([6])).toThrow(/outside a list/);
    expect(bad([5, 0, 1, ...ascii('a')])).toThrow(/outside a list/);
  });

  it('fail/key/values, sections and nested lists are not allowed inside a list', () => {
    expect(bad([4, 1, ...ascii('l'), 3, 1, ...ascii('k'), 0, 0, 6])).toThrow(/inside a list/);
    expect(bad([4, 1, ...ascii('l'), 4, 1, ...ascii('m'), 6, 6])).toThrow(/inside a list/);
  });

  it('fail/unknown element types, empty names and duplicate keys', () => {
    expect(bad([0])).toThrow(/unknown element type 0/);
    expect(bad([7])).toThrow(/unknown element type 7/);
    expect(bad([3, 0, 0, 0])).toThrow(/empty name/);
    expect(bad([3, 1, ...ascii('k'), 0, 0, 3, 1, ...ascii('k'), 0, 0])).toThrow(/duplicate key/);
  });

  it('fail/nesting deeper than the bound is refused, not a stack overflow', () => {
    const deep: number[] = [];
    for (let i = 0; i < 10_000; i++) deep.push(1, 1, 0x73);
    expect(bad(deep)).toThrow(/too deep/);
  });

  it('fail/random bytes never throw anything but ViciProtocolError', () => {
    let seed = 42;
    const rnd = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) % 256;
    for (let i = 0; i < 2000; i++) {
      const bytes = Buffer.from(Array.from({ length: 1 + (i % 64) }, rnd));
      try {
        decodeMessage(bytes);
      } catch (e) {
        expect(e).toBeInstanceOf(ViciProtocolError);
      }
    }
  });
});

describe('VICI packets and segments', () => {
  it('ok/a named request carries its name; an unnamed response does not', () => {
    const seg = encodePacket(PacketType.CMD_REQUEST, 'list-sas', encodeMessage({ noblock: 'yes' }));
    expect(seg.readUInt32BE(0)).toBe(seg.length - 4);
    const p = decodePacket(seg.subarray(4));
    expect(p).toMatchObject({ type: PacketType.CMD_REQUEST, name: 'list-sas' });
    expect(toPlain(decodeMessage(p.message))).toEqual({ noblock: 'yes' });
    const r = decodePacket(encodePacket(PacketType.EVENT_CONFIRM).subarray(4));
    expect(r.type).toBe(PacketType.EVENT_CONFIRM);
    expect(r.name).toBeUndefined();
  });

  it('ok/segments are reassembled from any chunking, several per chunk', () => {
    const a = encodePacket(PacketType.EVENT, 'ike-updown', encodeMessage({ up: 'yes' }));
    const b = encodePacket(PacketType.CMD_RESPONSE, undefined, encodeMessage({ success: 'yes' }));
    const all = Buffer.concat([a, b]);
    for (const cut of [1, 3, 4, 5, a.length, a.length + 2]) {
      const r = new SegmentReader();
      const segs = [...r.push(all.subarray(0, cut)), ...r.push(all.subarray(cut))];
      expect(segs.map((s) => decodePacket(s).type)).toEqual([PacketType.EVENT, PacketType.CMD_RESPONSE]);
    }
  });

  it('fail/a segment length above 512 KiB or of zero is refused', () => {
    const r = new SegmentReader();
    const h = Buffer.alloc(4);
    h.writeUInt32BE(MAX_SEGMENT_BYTES + 1);
    expect(() => r.push(h)).toThrow(ViciProtocolError);
    expect(() => new SegmentReader().push(Buffer.alloc(4))).toThrow(/outside/);
    expect(() => encodePacket(PacketType.CMD_REQUEST, 'x', Buffer.alloc(MAX_SEGMENT_BYTES))).toThrow(ViciProtocolError);
  });

  it('fail/unknown packet types and broken names', () => {
    expect(() => decodePacket(Buffer.from([8]))).toThrow(/unknown packet type 8/);
    expect(() => decodePacket(Buffer.from([PacketType.EVENT]))).toThrow(/without a name/);
    expect(() => decodePacket(Buffer.from([PacketType.EVENT, 5, 0x61]))).toThrow(/does not fit/);
    expect(() => decodePacket(Buffer.from([PacketType.CMD_REQUEST, 0]))).toThrow(/does not fit/);
    expect(() => decodePacket(Buffer.alloc(0))).toThrow(/empty segment/);
    expect(() => encodePacket(PacketType.EVENT_REGISTER)).toThrow(/needs a name/);
  });
});
