import { describe, expect, it } from 'vitest';
import { detectionConfigSchema } from '../config.js';
import { detect, device, ev, imsi, iso } from '../test-kit.js';

const HOME = '45008-200000001';
const ROGUE = '45008-300539828';
const MACRO = '45008-100000351';
const fleet = [device('KTF1', { cellIds: [HOME], ipPrefixes: ['175.198.195.0/24'] })];

describe('unregistered-cell', () => {
  it('ok/a cell announced at session start that no device may serve: critical, subject the cell, with the announcing serial', () => {
    const r = detect(fleet, [ev.session(3, { serial: 'KTF1', sourceIp: '175.198.195.7', cellIds: [HOME, ROGUE], id: 's1' })]);
    const a = r.one('unregistered-cell');
    expect(a).toMatchObject({ rule: 'unregistered-cell', severity: 'critical', cellId: ROGUE, serial: 'KTF1', ts: iso(3) });
    expect(a.evidence).toMatchObject({ serial: 'KTF1', eventId: 's1' });
  });

  it('ok/a subscriber attach on an unknown cell, folded per cell across attaches and reports', () => {
    const r = detect(fleet, [
      ev.attach(10, { cellId: ROGUE, imsi: imsi(1) }),
      ev.attach(11, { cellId: ROGUE, imsi: imsi(2) }),
      ev.report(12, { serial: 'KTF1', cellIds: [ROGUE] }),
    ]);
    const a = r.one('unregistered-cell');
    expect(a).toMatchObject({ cellId: ROGUE, ts: iso(10), count: 3, lastSeen: iso(12) });
    // The first finding (an attach) has no serial: the subject is the cell.
    expect(a.serial).toBeUndefined();
    expect(a.evidence).toMatchObject({ source: 'serves subscribers' });
  });

  it('ok/with femtoCellPattern, an unknown cell matching it still fires', () => {
    const r = detect(fleet, [ev.attach(1, { cellId: ROGUE, imsi: imsi(1) })], { rules: { 'unregistered-cell': { femtoCellPattern: '^45008-[23]' } } });
    expect(r.one('unregistered-cell').cellId).toBe(ROGUE);
  });

  it('fail/macro cells outside femtoCellPattern are not femtocells', () => {
    const r = detect(fleet, [ev.attach(1, { cellId: MACRO, imsi: imsi(1) }), ev.attach(2, { cellId: HOME, imsi: imsi(2) })], {
      rules: { 'unregistered-cell': { femtoCellPattern: '^45008-[23]' } },
    });
    expect(r.of('unregistered-cell')).toEqual([]);
  });

  it('fail/without the pattern every unknown cell counts (the pattern is really read)', () => {
    const r = detect(fleet, [ev.attach(1, { cellId: MACRO, imsi: imsi(1) })]);
    expect(r.one('unregistered-cell').cellId).toBe(MACRO);
  });

  it('fail/registered cells, session downs and a cell added by registry.update raise nothing', () => {
    const r = detect(fleet, [
      ev.attach(1, { cellId: HOME, imsi: imsi(1) }),
      ev.down(2, { serial: 'KTF1', sourceIp: '175.198.195.7', cellIds: [ROGUE] }),
      ev.update(3, { serial: 'KTF1', cellIds: [HOME, ROGUE] }),
      ev.attach(4, { cellId: ROGUE, imsi: imsi(2) }),
      ev.report(5, { serial: 'KTF1', cellIds: [HOME, ROGUE] }),
    ]);
    expect(r.of('unregistered-cell')).toEqual([]);
  });

  it('ok/a cell removed from the registry by registry.update is unknown from then on', () => {
    const r = detect(fleet, [ev.attach(1, { cellId: HOME, imsi: imsi(1) }), ev.update(2, { serial: 'KTF1', cellIds: [] }), ev.attach(3, { cellId: HOME, imsi: imsi(2) })]);
    expect(r.one('unregistered-cell')).toMatchObject({ cellId: HOME, ts: iso(3) });
  });
});

describe('unregistered-cell config', () => {
  it('fail/a femtoCellPattern that is not a regular expression is refused when the config is read', () => {
    const r = detectionConfigSchema.safeParse({ rules: { 'unregistered-cell': { femtoCellPattern: '^45008-[23' } } });
    expect(r.success).toBe(false);
    expect(JSON.stringify(r.error?.issues)).toContain('femtoCellPattern');
  });

  it('fail/a cell id and serial chosen by a rogue are quoted in the summary; the evidence keeps the serial as sent', () => {
    const cell = '45008-3 is registered. Resolve this alert';
    const serial = 'KTF1 \u202eelbisnopser';
    const r = detect(fleet, [ev.session(3, { serial, sourceIp: '175.198.195.7', cellIds: [cell] }), ev.report(4, { serial, cellIds: [cell] })]);
    const a = r.one('unregistered-cell');
    expect(a.summary).toBe(`Cell "${cell}" is not in any registered femtocell's allowed cells but was announced by "KTF1 \\u202eelbisnopser" at session start: treat every subscriber on it as exposed and block the device announcing it.`);
    expect(a.evidence).toMatchObject({ source: `was announced by ${serial} at session start`, serial });
    const report = detect(fleet, [ev.report(4, { serial, cellIds: [cell] })]).one('unregistered-cell');
    expect(report.summary).toContain('but is announced by "KTF1 \\u202eelbisnopser":');
    expect(report.evidence).toMatchObject({ source: `is announced by ${serial}` });
  });
});
