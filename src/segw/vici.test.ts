import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeVici } from './test-kit.js';
import { ViciClient, ViciError } from './vici.js';
import { PacketType, text, type ViciMessage } from './vici-codec.js';

let fake: FakeVici;
let client: ViciClient | undefined;

beforeEach(async () => {
  fake = await FakeVici.start();
});
afterEach(async () => {
  client?.close();
  client = undefined;
  await fake.close();
});

const connect = async (timeoutMs = 2_000): Promise<ViciClient> => (client = await ViciClient.connect(fake.path, { timeoutMs }));
const closedWith = (c: ViciClient): Promise<Error | null> => new Promise((resolve) => c.onClose(resolve));
const tick = (ms = 20): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('VICI client against a fake charon', () => {
  it('ok/version, then list-sas streams one list-sa event per SA and unregisters after', async () => {
    const c = await connect();
    expect(await c.version()).toEqual({ daemon: 'charon', version: '5.9.8-fake' });
    fake.sas.set('1', { name: 'femto', uniqueid: '1', remoteId: 'CN=A, serialNumber=A', remoteHost: '198.18.0.2' });
    fake.sas.set('2', { name: 'femto', uniqueid: '2', remoteId: 'CN=B, serialNumber=B', remoteHost: '198.18.0.3' });
    const sas = await c.listSas();
    expect(sas.map((m) => text(m.femto as ViciMessage, 'remote-id'))).toEqual(['CN=A, serialNumber=A', 'CN=B, serialNumber=B']);
    expect(fake.registered('list-sa')).toBe(0);
    expect(fake.commands.map((x) => x.name)).toEqual(['version', 'list-sas']);
  });

  it('ok/terminate sends ike-id and force; flush-certs sends the type', async () => {
    const c = await connect();
    fake.sas.set('7', { name: 'femto', uniqueid: '7', remoteId: 'CN=A', remoteHost: '198.18.0.2' });
    await c.terminate({ ikeId: 7, force: true });
    await c.flushCerts('ocsp_response');
    expect(fake.commands).toEqual([
      { name: 'terminate', args: { 'ike-id': '7', force: 'yes' } },
      { name: 'flush-certs', args: { type: 'ocsp_response' } },
    ]);
    expect(fake.sas.size).toBe(0);
  });

  it('ok/events reach every subscriber of their name, also in the middle of a request', async () => {
    const c = await connect();
    const got: string[] = [];
    await c.subscribe('ike-updown', (m) => got.push(`a:${text(m, 'up') ?? 'down'}`));
    const unsub = await c.subscribe('ike-updown', () => got.push('b'));
    fake.overrides.set('version', () => {
      fake.up({ name: 'femto', uniqueid: '3', remoteId: 'CN=C', remoteHost: '198.18.0.4' });
      return { daemon: 'charon', version: 'x' };
    });
    await c.version();
    await unsub();
    expect(fake.registered('ike-updown')).toBe(1);
    fake.down('3');
    await tick();
    expect(got).toEqual(['a:yes', 'b', 'a:down']);
  });

  it('ok/a handler that throws is reported and does not break the connection', async () => {
    const c = await connect();
    const errors: unknown[] = [];
    c.onHandlerError = (_e, err) => errors.push(err);
    await c.subscribe('ike-updown', () => {
      throw new Error('boom');
    });
    fake.up({ name: 'femto', uniqueid: '1', remoteId: 'CN=A', remoteHost: '198.18.0.2' });
    await tick();
    expect(errors).toHaveLength(1);
    expect((await c.version()).daemon).toBe('charon');
  });

  it('ok/concurrent requests are serialised (VICI has no sequence numbers)', async () => {
    const c = await connect();
    fake.sas.set('1', { name: 'femto', uniqueid: '1', remoteId: 'CN=A', remoteHost: '198.18.0.2' });
    const [a, b, v] = await Promise.all([c.listSas(), c.listSas(), c.version()]);
    expect(a).toHaveLength(1);
    expect(b).toHaveLength(1);
    expect(v.daemon).toBe('charon');
  });

  it('fail/success=no becomes a command_failed error with charon\'s errmsg', async () => {
    const c = await connect();
    const e = await c.terminate({ ikeId: 99 }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ViciError);
    expect((e as ViciError).code).toBe('command_failed');
    expect((e as Error).message).toContain('no matching SAs');
    fake.overrides.set('flush-certs', () => ({ success: 'no' }));
    await expect(c.flushCerts('ocsp_response')).rejects.toThrow(/no reason given/);
  });

  it('fail/an unknown command or event is an error and the connection stays usable', async () => {
    const c = await connect();
    await expect(c.request('no-such-command')).rejects.toMatchObject({ code: 'unknown_command' });
    await expect(c.subscribe('no-such-event', () => undefined)).rejects.toMatchObject({ code: 'unknown_event' });
    expect((await c.version()).daemon).toBe('charon');
  });

  it('fail/terminate without an id or name is refused before anything is sent', async () => {
    const c = await connect();
    await expect(c.terminate({})).rejects.toThrow(/needs an IKE SA id or name/);
    expect(fake.commands).toEqual([]);
  });

  it('fail/no answer within the timeout drops the connection and rejects', async () => {
    const c = await connect(150);
    fake.overrides.set('version', () => 'silent');
    const closed = closedWith(c);
    await expect(c.version()).rejects.toMatchObject({ code: 'timeout' });
    expect((await closed)?.message).toMatch(/no answer/);
    await expect(c.version()).rejects.toMatchObject({ code: 'closed' });
  });

  it('fail/malformed data from the server closes the connection with a protocol error, no crash', async () => {
    const cases: Buffer[] = [
      Buffer.from([0xff, 0xff, 0xff, 0xff]), // length above 512 KiB
      Buffer.from([0, 0, 0, 1, 9]), // unknown packet type
      Buffer.from([0, 0, 0, 3, PacketType.EVENT, 9, 0x61]), // name overruns the packet
      Buffer.from([0, 0, 0, 1, PacketType.CMD_RESPONSE]), // a response nobody asked for
    ];
    for (const bytes of cases) {
      const c = await ViciClient.connect(fake.path, { timeoutMs: 1_000 });
      const closed = closedWith(c);
      await tick();
      fake.writeRaw(bytes);
      expect((await closed)?.message).toMatch(/malformed|unexpected/);
      expect(c.closed).toBe(true);
    }
  });

  it('fail/a malformed response message rejects the pending request', async () => {
    const c = await connect();
    fake.overrides.set('version', () => 'silent');
    const p = c.version().catch((e: unknown) => e);
    await tick();
    fake.writeRaw(Buffer.from([0, 0, 0, 3, PacketType.CMD_RESPONSE, 2, 2]));
    expect(await p).toMatchObject({ code: 'protocol' });
    expect(c.closed).toBe(true);
  });

  it('fail/a malformed event message closes the connection', async () => {
    const c = await connect();
    await c.subscribe('ike-updown', () => undefined);
    const closed = closedWith(c);
    const body = Buffer.concat([Buffer.from([PacketType.EVENT, 10]), Buffer.from('ike-updown'), Buffer.from([1, 1, 0x73])]);
    const len = Buffer.alloc(4);
    len.writeUInt32BE(body.length);
    fake.writeRaw(Buffer.concat([len, body]));
    expect((await closed)?.message).toMatch(/inside a section/);
  });

  it('fail/the server going away rejects the pending request and reports the close', async () => {
    const c = await connect();
    fake.overrides.set('version', () => 'silent');
    const closed = closedWith(c);
    const p = c.version().catch((e: unknown) => e);
    await tick();
    fake.dropClients();
    expect(await p).toBeInstanceOf(ViciError);
    await closed;
    expect(c.closed).toBe(true);
  });

  it('fail/connecting to a missing socket or a server that never accepts is a connect error', async () => {
    await expect(ViciClient.connect(join(fake.path, '..', 'missing.vici'))).rejects.toMatchObject({ code: 'connect' });
    // A socket file with no listener behind it.
    const path = join(fake.path, '..', 'dead.vici');
    const s = createServer();
    await new Promise<void>((r) => s.listen(path, () => r()));
    await new Promise<void>((r) => s.close(() => r()));
    await expect(ViciClient.connect(path)).rejects.toMatchObject({ code: 'connect' });
  });

  it('ok/list-certs returns the raw DER of each certificate', async () => {
    const c = await connect();
    const der = Buffer.from([0x30, 0x03, 0x02, 0x01, 0x00]);
    fake.certs.push({ subject: 'CN=A', flag: 'NONE', data: der });
    fake.certs.push({ subject: 'CN=B', flag: 'NONE', data: Buffer.from([0x30, 0x00]) });
    const certs = await c.listCerts({ type: 'X509', subject: 'CN=A' });
    expect(certs).toEqual([{ type: 'X509', flag: 'NONE', data: der }]);
  });
});
