import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { validateEvent, type FgEvent } from '../events/index.js';
import { readRegistryCsv, type DeviceInput } from '../registry/index.js';
import { AlertBook, type Alert, type Finding } from './alerts.js';
import { detectionConfigSchema } from './config.js';
import { createEngine } from './engine.js';
import type { FlagEvent } from './partition.js';
import { CellFlags } from './cell-flags.js';
import { RegistryView } from './state.js';

const SAMPLE = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'shared', 'samples', 'kt-small');
const config = detectionConfigSchema.parse({});

async function sample(): Promise<{ devices: DeviceInput[]; events: FgEvent[] }> {
  const devices: DeviceInput[] = [];
  for await (const r of readRegistryCsv([readFileSync(join(SAMPLE, 'registry.csv'))])) if (r.ok) devices.push(r.device);
  const events: FgEvent[] = [];
  for (const line of readFileSync(join(SAMPLE, 'events.ndjson'), 'utf8').split('\n')) {
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch {
      continue;
    }
    const r = validateEvent(v);
    if (r.ok) events.push(r.event);
  }
  // In order (what the replay's reader hands the engines), ties by id as the reorder buffer sorts them.
  events.sort((a, b) => a.t - b.t || ((a.id ?? '') < (b.id ?? '') ? -1 : (a.id ?? '') > (b.id ?? '') ? 1 : 0));
  return { devices, events };
}

const isDeviceEvent = (e: FgEvent): boolean => e.type === 'femto.session' || e.type === 'femto.report';

describe('a partitioned engine (two engines over one ordered stream, as femtoguard detect runs them on two threads)', () => {
  it('ok/device side + subscriber side give exactly the alerts of one engine on kt-small (payments judged with the device side flags)', async () => {
    const { devices, events } = await sample();
    const one = createEngine({ registry: RegistryView.from(devices), config });
    events.forEach((e, i) => one.processOrdered(e, i));
    one.finish();

    // The device side runs first over the whole stream here; the subscriber side then takes its
    // flags as the thread protocol would, only those raised before each payment.
    const flags: FlagEvent[] = [];
    const device = createEngine({ registry: RegistryView.from(devices), config, partition: { side: 'device', onFlag: (f) => flags.push(f) } });
    const clones = events.map((e) => structuredClone(e));
    clones.forEach((e, i) => (isDeviceEvent(e) || e.type === 'registry.update' ? device.processOrdered(e, i) : device.advanceOrdered(e.t, i)));
    device.finish();
    let taken = 0;
    const asked: number[] = [];
    const subscriber = createEngine({
      registry: RegistryView.from(devices),
      config,
      partition: {
        side: 'subscriber',
        flagsBefore: (seq, wait) => {
          if (wait) asked.push(seq);
          const from = taken;
          while (taken < flags.length && (flags[taken] as FlagEvent).seq < seq) taken++;
          return flags.slice(from, taken);
        },
      },
    });
    events.forEach((e, i) => {
      if (!isDeviceEvent(e)) subscriber.processOrdered(structuredClone(e), i);
      else subscriber.advanceOrdered(e.t, i);
      // Between batches the replay takes in the flags that have arrived (here: all raised so far).
      if (i % 97 === 96) subscriber.absorbFlags(i + 1);
    });
    subscriber.finish();

    const merged = AlertBook.merge([device.alertBook().folds(), subscriber.alertBook().folds()]);
    expect(merged).toEqual(one.alerts());
    // The case the protocol exists for: payments flagged through cells that device-side rules flagged.
    const exposures = merged.filter((a) => a.rule === 'payment-exposure');
    expect(exposures.length).toBeGreaterThan(0);
    const rules = exposures.flatMap((a) => (a.evidence.exposures as { rules: string[] }[]).flatMap((x) => x.rules));
    expect(rules).toContain('inactive-device');
    expect(flags.length).toBeGreaterThan(0);
    // Waited for before every payment (and before the hourly expiry forgets lapsed flags).
    const payments = events.flatMap((e, i) => (e.type === 'payment.auth' ? [i] : []));
    expect([...new Set(asked)].filter((s) => payments.includes(s))).toEqual(payments);
    // And neither side alone has them all.
    expect(device.alerts().length).toBeLessThan(merged.length);
    expect(subscriber.alerts().length).toBeLessThan(merged.length);
  });
});

describe('CellFlags', () => {
  it('ok/the rules of a cell in the order they first flagged it, the first and latest times; a flag after a lapse starts a new episode', () => {
    const f = new CellFlags(100);
    f.flag('c', 50, 'unregistered-cell');
    f.flag('c', 60, 'subscriber-surge');
    f.flag('c', 40, 'unregistered-cell'); // a late event: earlier time, rule already there
    f.flag('c', 120, 'inactive-device');
    expect(f.get('c')).toEqual({ t: 40, last: 120, rules: new Set(['unregistered-cell', 'subscriber-surge', 'inactive-device']) });
    // Within the retention of the latest flag: the same episode.
    f.flag('c', 220, 'subscriber-surge');
    expect(f.get('c')?.t).toBe(40);
    // More than the retention after it: a new episode, only its own rule and time.
    f.flag('c', 321, 'ims-downgrade');
    expect(f.get('c')).toEqual({ t: 321, last: 321, rules: new Set(['ims-downgrade']) });
    f.expire(322);
    expect(f.size).toBe(0);
  });

  it('ok/with tracking, the cells flagged since the last take, once each; fail/none without tracking', () => {
    const f = new CellFlags(100, true);
    f.flag('a', 1, 'unregistered-cell');
    f.flag('b', 2, 'ims-downgrade');
    f.flag('a', 3, 'subscriber-surge');
    expect(f.takeChanged().sort((x, y) => x.cellId.localeCompare(y.cellId))).toEqual([
      { cellId: 'a', t: 1, last: 3, rules: ['unregistered-cell', 'subscriber-surge'] },
      { cellId: 'b', t: 2, last: 2, rules: ['ims-downgrade'] },
    ]);
    expect(f.takeChanged()).toEqual([]);
    const untracked = new CellFlags(100);
    untracked.flag('a', 1, 'unregistered-cell');
    expect(untracked.takeChanged()).toEqual([]);
  });

  it('ok/a stored flag replaces the rebuilt one of its episode (its first time, its rules first); fail/a newer rebuilt flag, or a new episode, is kept', () => {
    const f = new CellFlags(100);
    // Rebuilt by the warm-up from recent events only.
    f.flag('same', 150, 'subscriber-surge');
    f.flag('newer', 300, 'ims-downgrade');
    f.flag('episode', 400, 'ims-downgrade');
    f.restore({ cellId: 'same', t: 20, last: 150, rules: ['unregistered-cell', 'device-moving'] });
    f.restore({ cellId: 'newer', t: 250, last: 260, rules: ['unregistered-cell'] });
    f.restore({ cellId: 'episode', t: 100, last: 120, rules: ['unregistered-cell'] });
    f.restore({ cellId: 'fresh', t: 5, last: 6, rules: ['location-mismatch'] });
    expect(f.get('same')).toEqual({ t: 20, last: 150, rules: new Set(['unregistered-cell', 'device-moving', 'subscriber-surge']) });
    expect(f.get('newer')).toEqual({ t: 300, last: 300, rules: new Set(['ims-downgrade']) });
    expect(f.get('episode')).toEqual({ t: 400, last: 400, rules: new Set(['ims-downgrade']) });
    expect(f.get('fresh')).toEqual({ t: 5, last: 6, rules: new Set(['location-mismatch']) });
  });

  it('ok/a stored episode that began after the rebuilt one lapsed replaces it whole, as a server that kept running holds it', () => {
    const restored = new CellFlags(100);
    restored.flag('c', 0, 'unregistered-device'); // the warm-up rebuilt the old episode
    restored.restore({ cellId: 'c', t: 600, last: 650, rules: ['subscriber-surge'] });
    const kept = new CellFlags(100);
    kept.flag('c', 0, 'unregistered-device');
    kept.flag('c', 600, 'subscriber-surge');
    kept.flag('c', 650, 'subscriber-surge');
    expect(restored.get('c')).toEqual(kept.get('c'));
    expect(restored.get('c')).toEqual({ t: 600, last: 650, rules: new Set(['subscriber-surge']) });
  });
});

describe('AlertBook.merge', () => {
  const finding = (t: number, severity: Finding['severity'], summary: string, serial?: string): Finding => ({ rule: 'unregistered-cell', severity, t, cellId: '45008-3', ...(serial ? { serial } : {}), summary, evidence: { summary } });
  const fold = (steps: [number, Finding][]): AlertBook => {
    const b = new AlertBook();
    for (const [seq, f] of steps) b.fold(f, seq);
    return b;
  };
  const all: [number, Finding][] = [
    [1, finding(100, 'high', 'first, from a report', 'KTF1')],
    [2, finding(200, 'high', 'an attach')],
    [5, finding(500, 'critical', 'the first critical')],
    [7, finding(700, 'critical', 'a later critical')],
    [9, finding(900, 'high', 'last')],
  ];
  const one = (): Alert[] => fold(all).list();

  it('ok/two books that each folded some of the findings merge into what one book gives', () => {
    for (const mask of [0b00000, 0b10101, 0b01010, 0b00110, 0b11000, 0b11111]) {
      const a = fold(all.filter((_, i) => (mask >> i) & 1));
      const b = fold(all.filter((_, i) => !((mask >> i) & 1)));
      expect(AlertBook.merge([a.folds(), b.folds()]), `split ${mask.toString(2)}`).toEqual(one());
    }
  });

  it('ok/the merged alert keeps the first finding\'s fields, adds the counts and shows the first finding of the highest severity', () => {
    const [m] = AlertBook.merge([fold([all[1] as [number, Finding], all[3] as [number, Finding]]).folds(), fold([all[0] as [number, Finding], all[2] as [number, Finding], all[4] as [number, Finding]]).folds()]);
    expect(m).toMatchObject({ serial: 'KTF1', count: 5, severity: 'critical', summary: 'the first critical', firstSeen: new Date(100).toISOString(), lastSeen: new Date(900).toISOString() });
  });
});
